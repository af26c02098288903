// @grafana/ui icons load their SVG over the network through react-inlinesvg, which jsdom cannot do
// (and which only produces act() warnings); an empty <svg> keeps the icon's place. Grafana's own
// tests map react-inlinesvg the same way.
const React = require('react');

function InlineSVG(props) {
  const { src, innerRef, cacheRequests, preProcessor, loader, ...rest } = props;
  return React.createElement('svg', { ...rest, 'data-src': src, ref: innerRef });
}

module.exports = InlineSVG;
module.exports.default = InlineSVG;
module.exports.__esModule = true;

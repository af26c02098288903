// Stylesheets imported by dependencies carry no behaviour under test.
module.exports = {};

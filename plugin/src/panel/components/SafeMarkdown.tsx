import { css } from '@emotion/css';
import type { GrafanaTheme2 } from '@grafana/data';
import { useStyles2 } from '@grafana/ui';
import React, { useMemo, type ReactNode } from 'react';

import { parseMarkdown, type BlockNode, type InlineNode } from '../markdown';

/** Props of {@link SafeMarkdown}. */
export interface SafeMarkdownProps {
  /** Markdown source; untrusted (LLM output), rendered as text, never as HTML. */
  source: string;
  className?: string;
}

const getStyles = (theme: GrafanaTheme2) => ({
  root: css({
    fontSize: theme.typography.bodySmall.fontSize,
    lineHeight: theme.typography.bodySmall.lineHeight,
    overflowWrap: 'anywhere',
    'h4, h5, h6': { margin: theme.spacing(1, 0, 0.5), fontWeight: theme.typography.fontWeightMedium },
    h4: { fontSize: theme.typography.h5.fontSize },
    'h5, h6': { fontSize: theme.typography.h6.fontSize },
    p: { margin: theme.spacing(0, 0, 1) },
    'ul, ol': { margin: theme.spacing(0, 0, 1), paddingLeft: theme.spacing(2.5) },
    blockquote: {
      margin: theme.spacing(0, 0, 1),
      paddingLeft: theme.spacing(1),
      borderLeft: `3px solid ${theme.colors.border.medium}`,
      color: theme.colors.text.secondary,
    },
    code: {
      fontFamily: theme.typography.fontFamilyMonospace,
      background: theme.colors.background.canvas,
      padding: theme.spacing(0, 0.5),
      borderRadius: theme.shape.radius.default,
    },
    pre: {
      fontFamily: theme.typography.fontFamilyMonospace,
      background: theme.colors.background.canvas,
      padding: theme.spacing(1),
      overflowX: 'auto',
      margin: theme.spacing(0, 0, 1),
    },
    hr: { border: 0, borderTop: `1px solid ${theme.colors.border.weak}` },
  }),
});

/**
 * Renders markdown as React elements built from a parsed tree: text only ever reaches the DOM as
 * text nodes (React escapes them), links only with http(s)/mailto targets. No HTML string is built
 * and nothing uses dangerouslySetInnerHTML.
 */
export function SafeMarkdown({ source, className }: SafeMarkdownProps) {
  const styles = useStyles2(getStyles);
  const blocks = useMemo(() => parseMarkdown(source), [source]);
  return <div className={className ? `${styles.root} ${className}` : styles.root}>{blocks.map(renderBlock)}</div>;
}

function renderBlock(block: BlockNode, key: number): ReactNode {
  switch (block.type) {
    case 'heading': {
      // Explanations sit in a side pane: their headings rank below the panel title.
      const Tag = (['h4', 'h5', 'h6'] as const)[Math.min(block.level, 3) - 1];
      return <Tag key={key}>{renderInline(block.children)}</Tag>;
    }
    case 'paragraph':
      return <p key={key}>{renderInline(block.children)}</p>;
    case 'list': {
      const items = block.items.map((item, i) => <li key={i}>{renderInline(item)}</li>);
      return block.ordered ? <ol key={key}>{items}</ol> : <ul key={key}>{items}</ul>;
    }
    case 'quote':
      return <blockquote key={key}>{renderInline(block.children)}</blockquote>;
    case 'code':
      return (
        <pre key={key}>
          <code>{block.text}</code>
        </pre>
      );
    case 'hr':
      return <hr key={key} />;
  }
}

function renderInline(nodes: InlineNode[]): ReactNode[] {
  return nodes.map((node, key) => {
    switch (node.type) {
      case 'text':
        return <React.Fragment key={key}>{node.text}</React.Fragment>;
      case 'code':
        return <code key={key}>{node.text}</code>;
      case 'strong':
        return <strong key={key}>{renderInline(node.children)}</strong>;
      case 'em':
        return <em key={key}>{renderInline(node.children)}</em>;
      case 'link':
        return (
          <a key={key} href={node.href} target="_blank" rel="noopener noreferrer nofollow">
            {renderInline(node.children)}
          </a>
        );
    }
  });
}

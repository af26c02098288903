import { describe, expect, it } from '@jest/globals';

import { parseInline, parseMarkdown, safeHref } from './markdown';

describe('parseMarkdown', () => {
  it('parses headings, lists, paragraphs, code blocks, quotes and rules', () => {
    const blocks = parseMarkdown(
      '### What moved\n- **latency** rose\n- `error_rate` flat\n\n1. first\n2. second\n\nSome text\ncontinued.\n\n```\nraw <b>\n```\n> quoted\n---'
    );
    expect(blocks.map((b) => b.type)).toEqual(['heading', 'list', 'list', 'paragraph', 'code', 'quote', 'hr']);
    expect(blocks[0]).toEqual({ type: 'heading', level: 3, children: [{ type: 'text', text: 'What moved' }] });
    expect(blocks[1]).toMatchObject({ ordered: false, items: [[{ type: 'strong' }, { text: ' rose' }], [{ type: 'code', text: 'error_rate' }, { text: ' flat' }]] });
    expect(blocks[2]).toMatchObject({ ordered: true });
    expect(blocks[3]).toEqual({ type: 'paragraph', children: [{ type: 'text', text: 'Some text continued.' }] });
    expect(blocks[4]).toEqual({ type: 'code', text: 'raw <b>' });
  });

  it('keeps HTML as text', () => {
    expect(parseMarkdown('<script>alert(1)</script>')).toEqual([
      { type: 'paragraph', children: [{ type: 'text', text: '<script>alert(1)</script>' }] },
    ]);
  });

  it('never fails: an unclosed fence takes the rest as code', () => {
    expect(parseMarkdown('```\nx')).toEqual([{ type: 'code', text: 'x' }]);
    expect(parseMarkdown('')).toEqual([]);
  });
});

describe('parseInline', () => {
  it('parses emphasis, strong, code and safe links', () => {
    expect(parseInline('a *b* __c__ [d](https://x.example/p?q=1)')).toEqual([
      { type: 'text', text: 'a ' },
      { type: 'em', children: [{ type: 'text', text: 'b' }] },
      { type: 'text', text: ' ' },
      { type: 'strong', children: [{ type: 'text', text: 'c' }] },
      { type: 'text', text: ' ' },
      { type: 'link', href: 'https://x.example/p?q=1', children: [{ type: 'text', text: 'd' }] },
    ]);
  });

  it('drops unsafe link targets but keeps the words', () => {
    expect(parseInline('[click](javascript:alert(1))')).toEqual([
      { type: 'text', text: 'click' },
      { type: 'text', text: ')' },
    ]);
    expect(parseInline('[x](data:text/html,hi)')).toEqual([{ type: 'text', text: 'x' }]);
  });

  it('leaves snake_case identifiers and unclosed markers alone', () => {
    expect(parseInline('latency_p95_ms and 2 * 3')).toEqual([{ type: 'text', text: 'latency_p95_ms and 2 * 3' }]);
    expect(parseInline('**open')).toEqual([{ type: 'text', text: '**open' }]);
  });
});

describe('safeHref', () => {
  it('allows http, https and mailto only', () => {
    expect(safeHref('https://grafana.example/d/x')).toBe('https://grafana.example/d/x');
    expect(safeHref('mailto:oncall@example.com')).toBe('mailto:oncall@example.com');
    expect(safeHref('javascript:alert(1)')).toBeUndefined();
    expect(safeHref('/relative')).toBeUndefined();
  });
});

describe('underscores inside words', () => {
  it('are not emphasis', () => {
    expect(parseInline('window.__p=1 and window.__p=2')).toEqual([{ type: 'text', text: 'window.__p=1 and window.__p=2' }]);
    expect(parseInline('_em_ and __strong__')).toEqual([
      { type: 'em', children: [{ type: 'text', text: 'em' }] },
      { type: 'text', text: ' and ' },
      { type: 'strong', children: [{ type: 'text', text: 'strong' }] },
    ]);
  });
});

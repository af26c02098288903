import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';

import { parseInline, parseMarkdown, safeHref, type InlineNode } from './markdown';

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

describe('backslash escapes', () => {
  it('unescape every ASCII punctuation character, as the backend escapes telemetry text', () => {
    // What backend/src/explain/evidence.ts mdText makes of "keep p95 < 2 s! {a|b} #1 +x".
    expect(parseInline('keep p95 \\< 2 s\\! \\{a\\|b\\} \\#1 \\+x')).toEqual([{ type: 'text', text: 'keep p95 < 2 s! {a|b} #1 +x' }]);
    for (const ch of ASCII_PUNCTUATION) {
      expect(parseInline(`a\\${ch}b`)).toEqual([{ type: 'text', text: `a${ch}b` }]);
    }
  });

  it('keep a backslash before anything else', () => {
    expect(parseInline('C:\\temp \\é \\1')).toEqual([{ type: 'text', text: 'C:\\temp \\é \\1' }]);
  });

  it('never make markup out of escaped characters', () => {
    expect(parseMarkdown('\\<script\\>alert(1)\\</script\\>')).toEqual([{ type: 'paragraph', children: [{ type: 'text', text: '<script>alert(1)</script>' }] }]);
    expect(parseInline('\\[x\\](javascript:alert(1))')).toEqual([{ type: 'text', text: '[x](javascript:alert(1))' }]);
    expect(parseInline('\\*\\*a\\*\\*')).toEqual([{ type: 'text', text: '**a**' }]);
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

describe('parseInline on large and hostile input', () => {
  // Unclosed markers made the old parser rescan the rest of the text at every position: 32 KB took
  // about a second, so these 256 KB inputs would take about a minute, far past the Jest timeout.
  const SIZE = 256 * 1024;
  const repeat = (unit: string) => unit.repeat(Math.ceil(SIZE / unit.length));

  it.each(['**a ', '__a ', '*a ', '_a ', '[a ', '[a](', '[a](x "', 'a_b *'])('stays linear for %j repeated', (unit) => {
    const text = repeat(unit);
    const nodes = parseInline(text);
    // Nothing closes, so everything is text, and nothing is lost.
    const flat = (ns: InlineNode[]): string =>
      ns.map((n) => (n.type === 'text' || n.type === 'code' ? n.text : flat(n.children))).join('');
    expect(flat(nodes).length).toBeGreaterThan(SIZE * 0.9);
  }, 10_000);

  it('parses a large explanation with many closed markers', () => {
    const text = repeat('**a** _b_ `c` [d](https://x.example) ');
    const nodes = parseInline(text);
    expect(nodes.filter((n) => n.type === 'link').length).toBeGreaterThan(5000);
  }, 10_000);

  it('keeps emphasis nested deeper than the depth bound as text', () => {
    const deep = `${'*_'.repeat(40)}x${'_*'.repeat(40)}`;
    let node: InlineNode | undefined = parseInline(deep)[0];
    let depth = 0;
    while (node && node.type === 'em') {
      depth++;
      node = node.children[0];
    }
    expect(depth).toBeLessThan(40);
    expect(node?.type).toBe('text');
  });

  it('parses exactly as the regex-per-position parser did, on short inputs', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('*', '_', '`', '[', ']', '(', ')', '\\', ' ', 'a', 'b', '"', 'h', ':', '/', '!', '<', '|'), maxLength: 30 }), (text) => {
        expect(parseInline(text)).toEqual(referenceParseInline(text));
      }),
      { numRuns: 3000, seed: 20261122 }
    );
    for (const text of ['[a](https://x.example "t") b', '**a*b**c', '***a***', '_a__b_', '__a_b__', 'x__a__ __b__', '[`a`](http://h/)']) {
      expect(parseInline(text)).toEqual(referenceParseInline(text));
    }
  });
});

/** What CommonMark lets a backslash escape. */
const ASCII_PUNCTUATION = '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~';

/** The previous parser (regexes from every position), kept as the specification of the syntax. */
function referenceParseInline(text: string): InlineNode[] {
  const nodes: InlineNode[] = [];
  let plain = '';
  const flush = () => {
    if (plain) {
      nodes.push({ type: 'text', text: plain });
      plain = '';
    }
  };
  let i = 0;
  while (i < text.length) {
    const rest = text.slice(i);
    const ch = text[i];
    if (ch === '\\' && i + 1 < text.length && ASCII_PUNCTUATION.includes(text[i + 1])) {
      plain += text[i + 1];
      i += 2;
      continue;
    }
    if (ch === '`') {
      const end = text.indexOf('`', i + 1);
      if (end > i) {
        flush();
        nodes.push({ type: 'code', text: text.slice(i + 1, end) });
        i = end + 1;
        continue;
      }
    }
    const prevIsWord = /\w/.test(text[i - 1] ?? '');
    const strong = /^(\*\*|__)(?=\S)([\s\S]*?\S)\1(?!\w)/.exec(rest) ?? /^(\*\*)(?=\S)([\s\S]*?\S)\1/.exec(rest);
    if (strong && (strong[1] === '**' || !prevIsWord)) {
      flush();
      nodes.push({ type: 'strong', children: referenceParseInline(strong[2]) });
      i += strong[0].length;
      continue;
    }
    const em = ch === '_' ? /^_(?=\S)([\s\S]*?\S)_(?!\w)/.exec(rest) : /^\*(?=[^\s*])([\s\S]*?[^\s*])\*(?!\*)/.exec(rest);
    if (em && (ch === '*' || !prevIsWord)) {
      flush();
      nodes.push({ type: 'em', children: referenceParseInline(em[1]) });
      i += em[0].length;
      continue;
    }
    const link = /^\[([^\]]+)\]\(\s*([^\s)]+)(?:\s+"[^"]*")?\s*\)/.exec(rest);
    if (link) {
      flush();
      const href = safeHref(link[2]);
      const children = referenceParseInline(link[1]);
      if (href) {
        nodes.push({ type: 'link', href, children });
      } else {
        nodes.push(...children);
      }
      i += link[0].length;
      continue;
    }
    plain += ch;
    i++;
  }
  flush();
  return nodes;
}

/**
 * A small markdown parser for explanations. It produces a tree of plain data that SafeMarkdown turns
 * into React elements; nothing here ever becomes HTML, so `<script>` or `<img onerror>` in an
 * explanation (LLM output is untrusted) is shown as text. Supported: headings, paragraphs, bullet and
 * numbered lists, block quotes, fenced code, horizontal rules, `code`, **strong**, *emphasis* and
 * [links](https://...) with http(s)/mailto targets only.
 */

/** Inline content. */
export type InlineNode =
  | { type: 'text'; text: string }
  | { type: 'code'; text: string }
  | { type: 'strong'; children: InlineNode[] }
  | { type: 'em'; children: InlineNode[] }
  | { type: 'link'; href: string; children: InlineNode[] };

/** Block content. */
export type BlockNode =
  | { type: 'heading'; level: number; children: InlineNode[] }
  | { type: 'paragraph'; children: InlineNode[] }
  | { type: 'list'; ordered: boolean; items: InlineNode[][] }
  | { type: 'quote'; children: InlineNode[] }
  | { type: 'code'; text: string }
  | { type: 'hr' };

const HEADING = /^(#{1,6})\s+(.*?)\s*#*\s*$/;
const BULLET = /^\s*[-*+]\s+(.*)$/;
const NUMBERED = /^\s*\d+[.)]\s+(.*)$/;
const FENCE = /^\s*(```|~~~)/;
const HR = /^\s*([-*_])(\s*\1){2,}\s*$/;
const QUOTE = /^\s*>\s?(.*)$/;

/** Parses markdown into blocks. Total: any input yields a tree, unknown syntax stays text. */
export function parseMarkdown(source: string): BlockNode[] {
  const lines = source.replace(/\r\n?/g, '\n').split('\n');
  const blocks: BlockNode[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (!line.trim()) {
      i++;
      continue;
    }
    const fence = FENCE.exec(line);
    if (fence) {
      const body: string[] = [];
      i++;
      while (i < lines.length && !lines[i].trim().startsWith(fence[1])) {
        body.push(lines[i]);
        i++;
      }
      i++; // closing fence (or end of input)
      blocks.push({ type: 'code', text: body.join('\n') });
      continue;
    }
    const heading = HEADING.exec(line);
    if (heading) {
      blocks.push({ type: 'heading', level: heading[1].length, children: parseInline(heading[2]) });
      i++;
      continue;
    }
    if (HR.test(line)) {
      blocks.push({ type: 'hr' });
      i++;
      continue;
    }
    if (BULLET.test(line) || NUMBERED.test(line)) {
      const ordered = !BULLET.test(line);
      const pattern = ordered ? NUMBERED : BULLET;
      const items: string[] = [];
      while (i < lines.length && lines[i].trim()) {
        const item = pattern.exec(lines[i]);
        if (item) {
          items.push(item[1]);
        } else if (items.length && /^\s+/.test(lines[i]) && !BULLET.test(lines[i]) && !NUMBERED.test(lines[i])) {
          items[items.length - 1] += ` ${lines[i].trim()}`; // continuation line of the item
        } else {
          break;
        }
        i++;
      }
      blocks.push({ type: 'list', ordered, items: items.map(parseInline) });
      continue;
    }
    if (QUOTE.test(line)) {
      const body: string[] = [];
      while (i < lines.length && QUOTE.test(lines[i])) {
        body.push(QUOTE.exec(lines[i])![1]);
        i++;
      }
      blocks.push({ type: 'quote', children: parseInline(body.join(' ')) });
      continue;
    }
    const body: string[] = [];
    while (
      i < lines.length &&
      lines[i].trim() &&
      !HEADING.test(lines[i]) &&
      !FENCE.test(lines[i]) &&
      !BULLET.test(lines[i]) &&
      !NUMBERED.test(lines[i]) &&
      !QUOTE.test(lines[i]) &&
      !HR.test(lines[i])
    ) {
      body.push(lines[i].trim());
      i++;
    }
    blocks.push({ type: 'paragraph', children: parseInline(body.join(' ')) });
  }
  return blocks;
}

/** Parses inline markup. Unclosed markers are kept as literal text. */
export function parseInline(text: string): InlineNode[] {
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
    if (ch === '\\' && i + 1 < text.length && /[\\`*_[\]()#>-]/.test(text[i + 1])) {
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
    // Underscore markers only count at word boundaries (as in CommonMark), so snake_case names and
    // identifiers like `window.__x` stay literal.
    const prevIsWord = /\w/.test(text[i - 1] ?? '');
    const strong = /^(\*\*|__)(?=\S)([\s\S]*?\S)\1(?!\w)/.exec(rest) ?? /^(\*\*)(?=\S)([\s\S]*?\S)\1/.exec(rest);
    if (strong && (strong[1] === '**' || !prevIsWord)) {
      flush();
      nodes.push({ type: 'strong', children: parseInline(strong[2]) });
      i += strong[0].length;
      continue;
    }
    const em = ch === '_' ? /^_(?=\S)([\s\S]*?\S)_(?!\w)/.exec(rest) : /^\*(?=[^\s*])([\s\S]*?[^\s*])\*(?!\*)/.exec(rest);
    if (em && (ch === '*' || !prevIsWord)) {
      flush();
      nodes.push({ type: 'em', children: parseInline(em[1]) });
      i += em[0].length;
      continue;
    }
    const link = /^\[([^\]]+)\]\(\s*([^\s)]+)(?:\s+"[^"]*")?\s*\)/.exec(rest);
    if (link) {
      flush();
      const href = safeHref(link[2]);
      const children = parseInline(link[1]);
      if (href) {
        nodes.push({ type: 'link', href, children });
      } else {
        nodes.push(...children); // unsafe target (javascript:, data:, ...): keep the words, drop the link
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

/** The URL if it is http(s) or mailto, else undefined. */
export function safeHref(url: string): string | undefined {
  try {
    const parsed = new URL(url);
    return ['http:', 'https:', 'mailto:'].includes(parsed.protocol) ? parsed.href : undefined;
  } catch {
    return undefined;
  }
}

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

/**
 * Emphasis nested deeper than this is kept as text: it bounds the work on hostile input (each level
 * parses its content again) and no explanation needs more.
 */
const MAX_INLINE_DEPTH = 16;

const WORD = /\w/;
const SPACE = /\s/;
const isWord = (ch: string | undefined) => ch !== undefined && WORD.test(ch);
const isSpace = (ch: string | undefined) => ch !== undefined && SPACE.test(ch);
const isNonSpace = (ch: string | undefined) => ch !== undefined && !SPACE.test(ch);

/** Where each kind of closing marker may stand: its positions, ascending. */
interface Closers {
  /** `**` after a non-space, not before a word character. */
  strongStrict: number[];
  /** `**` after a non-space. */
  strongLoose: number[];
  /** `__` after a non-space, not before a word character. */
  strongUnderscore: number[];
  /** `_` after a non-space, not before a word character. */
  emUnderscore: number[];
  /** `*` after neither space nor `*`, not before `*`. */
  emStar: number[];
}

/**
 * Every closer position of the text in one pass. Whether a position closes depends only on its own
 * neighbours, never on the opener, so one list per kind serves every opener (binary search), where
 * running a regex from each opener to the end of the text made unclosed markers quadratic.
 */
function findClosers(text: string): Closers {
  const closers: Closers = { strongStrict: [], strongLoose: [], strongUnderscore: [], emUnderscore: [], emStar: [] };
  for (let c = 1; c < text.length; c++) {
    const ch = text[c];
    if (ch !== '*' && ch !== '_') {
      continue;
    }
    const before = text[c - 1];
    const double = text[c + 1] === ch;
    if (ch === '*') {
      if (double && isNonSpace(before)) {
        closers.strongLoose.push(c);
        if (!isWord(text[c + 2])) {
          closers.strongStrict.push(c);
        }
      }
      if (!isSpace(before) && before !== '*' && text[c + 1] !== '*') {
        closers.emStar.push(c);
      }
    } else if (isNonSpace(before)) {
      if (double && !isWord(text[c + 2])) {
        closers.strongUnderscore.push(c);
      }
      if (!isWord(text[c + 1])) {
        closers.emUnderscore.push(c);
      }
    }
  }
  return closers;
}

/** The first position in `positions` (ascending) at or after `from`, or -1. */
function firstAtOrAfter(positions: number[], from: number): number {
  let lo = 0;
  let hi = positions.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (positions[mid] < from) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo < positions.length ? positions[lo] : -1;
}

/**
 * What a backslash escapes: every ASCII punctuation character, as in CommonMark. The backend escapes
 * `` \`*_{}[]()#+!|<> `` in text from telemetry or an LLM (mdText), so all of them must come back as
 * the bare character. The result is plain text, never markup.
 */
const ESCAPABLE = /^[!-/:-@[-`{-~]$/;

/** What may follow a link target: an optional "title", then `)`. */
const LINK_END = /(?:\s+"[^"]*")?\s*\)/y;
const URL_STOP = /[\s)]/g;

/**
 * Parses inline markup. Unclosed markers are kept as literal text. Linear in the length of the text
 * (times the nesting depth, at most MAX_INLINE_DEPTH): explanations are untrusted and may be large.
 */
export function parseInline(text: string): InlineNode[] {
  return parseInlineAt(text, 0);
}

function parseInlineAt(text: string, depth: number): InlineNode[] {
  if (depth >= MAX_INLINE_DEPTH) {
    return text ? [{ type: 'text', text }] : [];
  }
  const nodes: InlineNode[] = [];
  let plain = '';
  const flush = () => {
    if (plain) {
      nodes.push({ type: 'text', text: plain });
      plain = '';
    }
  };
  let closers: Closers | undefined;
  const closer = (kind: keyof Closers, from: number) => firstAtOrAfter((closers ??= findClosers(text))[kind], from);
  // The `]` a link label ends at, and the link's target and end, found once per `]`.
  let bracket = -1;
  const tails = new Map<number, { href: string; end: number } | undefined>();
  // A target runs to the next space or `)`; targets of later links start later, so one search serves many.
  let urlStop = -1;
  const linkTail = (close: number): { href: string; end: number } | undefined => {
    if (text[close + 1] !== '(') {
      return undefined;
    }
    let start = close + 2;
    while (isSpace(text[start])) {
      start++;
    }
    if (urlStop < start) {
      URL_STOP.lastIndex = start;
      urlStop = URL_STOP.exec(text)?.index ?? text.length;
    }
    if (urlStop === start || urlStop >= text.length) {
      return undefined;
    }
    LINK_END.lastIndex = urlStop;
    const end = LINK_END.exec(text);
    return end ? { href: text.slice(start, urlStop), end: urlStop + end[0].length } : undefined;
  };
  const inner = (content: string) => parseInlineAt(content, depth + 1);

  let i = 0;
  while (i < text.length) {
    const ch = text[i];
    if (ch === '\\' && i + 1 < text.length && ESCAPABLE.test(text[i + 1])) {
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
    const prevIsWord = isWord(text[i - 1]);
    if ((ch === '*' || ch === '_') && text[i + 1] === ch && isNonSpace(text[i + 2]) && (ch === '*' || !prevIsWord)) {
      // Strong: content from i + 2 up to a closer after at least one character.
      const end =
        ch === '*'
          ? (() => {
              const strict = closer('strongStrict', i + 3);
              return strict >= 0 ? strict : closer('strongLoose', i + 3);
            })()
          : closer('strongUnderscore', i + 3);
      if (end >= 0) {
        flush();
        nodes.push({ type: 'strong', children: inner(text.slice(i + 2, end)) });
        i = end + 2;
        continue;
      }
    }
    if (ch === '*' ? text[i + 1] !== undefined && !isSpace(text[i + 1]) && text[i + 1] !== '*' : ch === '_' && isNonSpace(text[i + 1]) && !prevIsWord) {
      const end = closer(ch === '*' ? 'emStar' : 'emUnderscore', i + 2);
      if (end >= 0) {
        flush();
        nodes.push({ type: 'em', children: inner(text.slice(i + 1, end)) });
        i = end + 1;
        continue;
      }
    }
    if (ch === '[') {
      if (bracket < i) {
        bracket = text.indexOf(']', i + 1);
        if (bracket < 0) {
          bracket = text.length;
        }
      }
      if (bracket > i + 1 && bracket < text.length) {
        if (!tails.has(bracket)) {
          tails.set(bracket, linkTail(bracket));
        }
        const tail = tails.get(bracket);
        if (tail) {
          flush();
          const href = safeHref(tail.href);
          const children = inner(text.slice(i + 1, bracket));
          if (href) {
            nodes.push({ type: 'link', href, children });
          } else {
            nodes.push(...children); // unsafe target (javascript:, data:, ...): keep the words, drop the link
          }
          i = tail.end;
          continue;
        }
      }
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

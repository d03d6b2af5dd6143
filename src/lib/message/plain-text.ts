// The HTML comes from msg, so whoever feeds a flow chooses it. The conversion therefore scans it
// once, left to right, looking things up with indexOf and never going back, in time linear in its
// length: a regex run over the whole input can backtrack over the rest of it at every `<` (200 KB
// of `<` took 37 s). Regexes only ever see the text of one tag.

/**
 * Derived text longer than this is cut, and a note says so. The cap is on the text we add to the
 * mail, not on the HTML: HTML heavy with markup and inline CSS often holds little text, and should
 * not lose it. A million characters is hundreds of printed pages, far more than anyone reads in a
 * client that shows no HTML, while the HTML part still carries everything; it also stops the scan
 * early on huge text-heavy bodies.
 */
export const MAX_TEXT_LENGTH = 1_000_000;
export const TRUNCATION_NOTE = '[… text truncated: the HTML version holds the full content]';

// A Map, not an object literal: `&constructor;` must stay as it is.
const ENTITIES = new Map([
  ['amp', '&'],
  ['lt', '<'],
  ['gt', '>'],
  ['quot', '"'],
  ['apos', "'"],
  ['nbsp', ' '],
]);
const BLOCKS = new Set(['p', 'div', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'ul', 'ol', 'table', 'tr', 'blockquote', 'pre']);
const HREF = /href\s*=\s*["']([^"']+)["']/i;

const isLetter = (c: number) => (c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a;
const isDigit = (c: number) => c >= 0x30 && c <= 0x39;
const isHexDigit = (c: number) => isDigit(c) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x66);
// The characters String.prototype.trim removes (WhiteSpace and LineTerminator, ECMA-262).
const isTrimmed = (c: number) =>
  c <= 0x20
    ? c === 0x20 || (c >= 0x09 && c <= 0x0d)
    : c === 0xa0 ||
      c === 0x1680 ||
      (c >= 0x2000 && c <= 0x200a) ||
      c === 0x2028 ||
      c === 0x2029 ||
      c === 0x202f ||
      c === 0x205f ||
      c === 0x3000 ||
      c === 0xfeff;

/**
 * Collects the text. Spaces, tabs and newlines of the source and the line breaks of the markup
 * collapse: a run without a newline becomes one space, a run with newlines one or two newlines.
 * Characters that entities decode to never collapse, and \r stays as it is: flows already rely on
 * text derived this way, so it keeps that output.
 */
class TextWriter {
  private text = '';
  /** Length of `text` up to its last character that trim() keeps. */
  private kept = 0;
  private space = false;
  private newlines = 0;
  /** Past the cap: nothing more is needed. */
  full = false;

  addSpace(): void {
    this.space = true;
  }

  addNewline(count = 1): void {
    this.newlines = Math.min(2, this.newlines + count);
  }

  add(s: string): void {
    if (s === '') return;
    if (this.text === '') {
      s = s.trimStart();
      if (s === '') return;
    } else if (this.newlines) {
      this.text += this.newlines === 1 ? '\n' : '\n\n';
    } else if (this.space) {
      this.text += ' ';
    }
    this.space = false;
    this.newlines = 0;
    const start = this.text.length;
    this.text += s;
    let end = s.length;
    while (end > 0 && isTrimmed(s.charCodeAt(end - 1))) end--;
    if (end > 0) {
      this.kept = start + end;
      this.full = this.kept > MAX_TEXT_LENGTH;
    }
  }

  /** HTML source text: whitespace collapses, entities are decoded. */
  addSource(s: string, from: number, to: number): void {
    let done = from;
    let i = from;
    while (i < to && !this.full) {
      const c = s.charCodeAt(i);
      if (c === 0x26) {
        const entity = entityAt(s, i, to);
        if (entity) {
          this.add(s.slice(done, i));
          this.add(entity.text);
          done = i = entity.end;
        } else i++;
        continue;
      }
      if (c !== 0x20 && c !== 0x09 && c !== 0x0a) {
        i++;
        continue;
      }
      let end = i + 1;
      let newlines = c === 0x0a ? 1 : 0;
      while (end < to) {
        const d = s.charCodeAt(end);
        if (d === 0x0a) newlines++;
        else if (d !== 0x20 && d !== 0x09) break;
        end++;
      }
      // One space between two words is collapsed already: it stays in the slice, which spares a
      // call per word. At either end of the text it may join whitespace beyond the markup.
      if (c === 0x20 && end === i + 1 && i > from && end < to) {
        i = end;
        continue;
      }
      this.add(s.slice(done, i));
      if (newlines) this.addNewline(newlines);
      else this.addSpace();
      done = i = end;
    }
    this.add(s.slice(done, i));
  }

  result(): string {
    if (!this.full) return this.text.slice(0, this.kept);
    let cut = MAX_TEXT_LENGTH;
    const last = this.text.charCodeAt(cut - 1);
    if (last >= 0xd800 && last <= 0xdbff) cut--; // do not split a surrogate pair
    return `${this.text.slice(0, cut).trimEnd()}\n\n${TRUNCATION_NOTE}`;
  }
}

/**
 * The entity at `amp`, as the regex /&(#x[0-9a-f]+|#\d+|[a-z]+);/i of the former decoder found
 * them: named ones from ENTITIES, numeric ones up to U+10FFFF. Others stay as they are.
 */
function entityAt(s: string, amp: number, to: number): { text: string; end: number } | undefined {
  if (s.charCodeAt(amp + 1) === 0x23) {
    const hex = (s.charCodeAt(amp + 2) | 0x20) === 0x78;
    const first = amp + (hex ? 3 : 2);
    let end = first;
    while (end < to && (hex ? isHexDigit(s.charCodeAt(end)) : isDigit(s.charCodeAt(end)))) end++;
    if (end === first || end >= to || s.charCodeAt(end) !== 0x3b) return undefined;
    const code = parseInt(s.slice(first, end), hex ? 16 : 10);
    return Number.isFinite(code) && code <= 0x10ffff ? { text: String.fromCodePoint(code), end: end + 1 } : undefined;
  }
  let end = amp + 1;
  while (end < to && isLetter(s.charCodeAt(end))) end++;
  if (end === amp + 1 || end >= to || s.charCodeAt(end) !== 0x3b) return undefined;
  const text = ENTITIES.get(s.slice(amp + 1, end).toLowerCase());
  return text === undefined ? undefined : { text, end: end + 1 };
}

/**
 * Finds end tags of elements whose content is skipped. Each answer is kept per tag name: a run of
 * `<head>` tags without `</head>` searches the rest of the input once, not once per tag.
 */
class EndTags {
  private found = new Map<string, { from: number; start: number; end: number }>();

  constructor(private readonly html: string) {}

  /** The index after the first `</name ...>` at or after `from`, or -1 when there is none. */
  after(name: string, from: number): number {
    const known = this.found.get(name);
    if (known && from >= known.from && (known.start === -1 || from <= known.start)) return known.end;
    const { html } = this;
    let start = html.indexOf('</', from);
    while (start !== -1 && !this.isEndTag(name, start)) start = html.indexOf('</', start + 2);
    const gt = start === -1 ? -1 : html.indexOf('>', start);
    const end = gt === -1 ? -1 : gt + 1;
    this.found.set(name, { from, start: end === -1 ? -1 : start, end });
    return end;
  }

  private isEndTag(name: string, at: number): boolean {
    for (let k = 0; k < name.length; k++) {
      if ((this.html.charCodeAt(at + 2 + k) | 0x20) !== name.charCodeAt(k)) return false;
    }
    return endsName(this.html.charCodeAt(at + 2 + name.length));
  }
}

const startsMarkup = (c: number) => isLetter(c) || c === 0x2f || c === 0x21 || c === 0x3f;

/** The next `<` at or after `from` that starts markup, or -1. */
function markupAt(html: string, from: number): number {
  let lt = html.indexOf('<', from);
  while (lt !== -1 && lt + 1 < html.length) {
    const next = html.charCodeAt(lt + 1);
    if (startsMarkup(next)) return lt;
    lt = next === 0x3c ? lt + 1 : html.indexOf('<', lt + 2);
  }
  return -1;
}

// A tag name ends at whitespace, `/` or `>` (HTML Living Standard, "tag name state").
const endsName = (c: number) => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0c || c === 0x0d || c === 0x2f || c === 0x3e;

/**
 * The plain-text alternative of an HTML body, for clients that show no HTML (RFC 2046 §5.1.4
 * multipart/alternative). Keeps paragraphs, line breaks, list items and link targets; drops the
 * content of script, style and head.
 *
 * Markup starts, as in browsers, with `<` followed by a letter, `/`, `!` or `?`; any other `<` is
 * text. Markup that never ends (a tag without `>`, a comment without `-->`, a script or style
 * without its end tag) drops the rest of the input, as a browser shows nothing of it either:
 * keeping it would put half a tag, or code, into the text. Only `</head>` may be missing, as HTML
 * allows: then what follows `<head>` is kept.
 */
export function htmlToText(html: string): string {
  const out = new TextWriter();
  const endTags = new EndTags(html);
  let link: { href: string; label: string } | undefined;
  let unwritten = 0; // where the source text not yet written starts
  let at = 0; // where to look for the next `<`
  while (!out.full) {
    const lt = markupAt(html, at);
    if (lt === -1) break;
    const next = html.charCodeAt(lt + 1);
    const endTag = next === 0x2f;
    out.addSource(html, unwritten, lt);
    if (link) link.label += html.slice(unwritten, lt);
    let gt: number;
    if (html.startsWith('<!--', lt)) {
      // `<!-->` and `<!--->` are empty comments, hence the search from the first dash.
      const close = html.indexOf('-->', lt + 2);
      gt = close === -1 ? -1 : close + 2;
    } else gt = html.indexOf('>', lt + 1);
    if (gt === -1) {
      unwritten = html.length;
      break;
    }
    unwritten = at = gt + 1;
    if (next === 0x21 || next === 0x3f) continue; // comment, doctype, processing instruction

    const nameStart = endTag ? lt + 2 : lt + 1;
    let nameEnd = nameStart;
    while (isLetter(html.charCodeAt(nameEnd)) || isDigit(html.charCodeAt(nameEnd))) nameEnd++;
    const name = endsName(html.charCodeAt(nameEnd)) ? html.slice(nameStart, nameEnd).toLowerCase() : '';
    if (endTag) {
      if (BLOCKS.has(name)) {
        out.addNewline();
        out.addNewline();
      } else if (name === 'a' && link) {
        // A link whose text is its target, or a mailto:, reads well without the target repeated.
        if (link.label.trim() !== link.href && !/^mailto:/i.test(link.href)) {
          out.addSpace();
          out.add('(');
          out.addSource(link.href, 0, link.href.length);
          out.add(')');
        }
        link = undefined;
      }
    } else if (name === 'script' || name === 'style' || name === 'head') {
      const end = endTags.after(name, at);
      if (end !== -1) unwritten = at = end;
      else if (name !== 'head') {
        unwritten = html.length;
        break;
      }
    } else if (name === 'br') {
      out.addNewline();
    } else if (name === 'li') {
      out.addNewline();
      out.add('-');
      out.addSpace();
    } else if (name === 'a' && !link) {
      // A link inside an open link only adds to the outer one's text: the outer target is given.
      const href = HREF.exec(html.slice(lt, gt));
      if (href) link = { href: href[1], label: '' };
    }
  }
  out.addSource(html, unwritten, html.length);
  return out.result();
}

import addressparser from 'nodemailer/lib/addressparser';
import { parseHeaderValue } from 'nodemailer/lib/mime-funcs';

/**
 * What the Graph transport needs to know of, and change in, a message nodemailer built. Graph takes
 * the recipients from the MIME itself (there is no envelope), and refuses a request over 4 MB, so
 * a large mail goes as a draft whose attachments are uploaded one by one.
 *
 * The message is read as latin1: one character per byte, so string offsets are byte offsets and
 * every byte that is not changed on purpose comes back as it was (boundaries, headers, other parts).
 */

/** One attachment taken out of the draft, to be posted (or uploaded in chunks) to the draft message. */
export interface DraftAttachment {
  /** The file name, decoded (RFC 2231 parameters and RFC 2047 encoded words). */
  name: string;
  /** The media type without its parameters, lower case: image/png. */
  contentType: string;
  /** The Content-ID without its angle brackets, when the part has one. */
  contentId?: string;
  /** Shown in the body (Content-Disposition inline, an image the HTML refers to by cid). */
  isInline: boolean;
  /** The bytes of the file, its transfer encoding undone. */
  content: Buffer;
}

/** The draft is over the cap even with every attachment taken out: its text alone is too large for one request. */
export class DraftTooLargeError extends Error {
  constructor(
    /** Size of the draft's base64 with every attachment taken out. */
    readonly base64Bytes: number,
    readonly maxBase64Bytes: number,
  ) {
    super(
      `The message without its attachments is ${base64Bytes} bytes as base64, over the ${maxBase64Bytes} bytes one Graph request may carry`,
    );
    this.name = 'DraftTooLargeError';
  }
}

/** A header field, unfolded; `name` in lower case. */
interface Field {
  name: string;
  value: string;
}

/** One MIME entity of the message: offsets into the latin1 text. */
interface Entity {
  /** First byte of its header block. */
  start: number;
  /** First byte of its body. */
  bodyStart: number;
  /** End of its body (exclusive): for a part, the CRLF ahead of the next delimiter is not its own. */
  end: number;
  fields: Field[];
  children: Child[];
  boundary?: string;
  /** Offset of the closing delimiter line (`--boundary--`), for a multipart. */
  closeAt?: number;
}

/** A part of a multipart: the entity, and the bytes removing it takes away (its delimiter line up to the next one). */
interface Child {
  entity: Entity;
  removeStart: number;
  removeEnd: number;
}

const base64Length = (bytes: number): number => Math.ceil(bytes / 3) * 4;

/** Offset of the first byte of the body: after the blank line that ends the header block at `start`. */
function bodyOffset(text: string, start: number, end: number): number {
  // A part with no header at all starts with its blank line.
  if (text.startsWith('\r\n', start)) return start + 2;
  if (text[start] === '\n') return start + 1;
  const blank = /\r?\n\r?\n/g;
  blank.lastIndex = start;
  const found = blank.exec(text);
  return found && found.index < end ? found.index + found[0].length : end;
}

/** The header fields of the block [start, bodyStart), unfolded. */
function fieldsOf(text: string, start: number, bodyStart: number): Field[] {
  const fields: Field[] = [];
  for (const line of text.slice(start, bodyStart).split(/\r?\n/)) {
    if (/^[ \t]/.test(line) && fields.length) fields[fields.length - 1].value += line;
    else {
      const colon = line.indexOf(':');
      if (colon > 0) fields.push({ name: line.slice(0, colon).trim().toLowerCase(), value: line.slice(colon + 1).trim() });
    }
  }
  return fields;
}

const field = (entity: Entity, name: string): string | undefined => entity.fields.find((f) => f.name === name)?.value;

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Parses the entity [start, end): its header, and for a multipart its parts, recursively. */
function parseEntity(text: string, start: number, end: number, depth = 0): Entity {
  const bodyStart = bodyOffset(text, start, end);
  const entity: Entity = { start, bodyStart, end, fields: fieldsOf(text, start, bodyStart), children: [] };
  const type = parseHeaderValue(field(entity, 'content-type') || 'text/plain', { stripComments: true });
  const boundary = type.params.boundary;
  // Nesting deeper than any mail client writes is left whole rather than recursed into without end.
  if (!/^multipart\//i.test(type.value) || !boundary || depth > 20) return entity;
  entity.boundary = boundary;
  // A delimiter line: `--boundary`, `--` more for the closing one, white space up to the line's end.
  // The body starts after a line break, so every delimiter line, the first included, follows one.
  const delimiter = new RegExp(`(?<=\\n)--${escapeRegExp(boundary)}(--)?[ \\t]*(?:\\r?\\n|$)`, 'g');
  delimiter.lastIndex = bodyStart;
  const body = text.slice(0, end);
  const found: { lineStart: number; after: number; before: number; close: boolean }[] = [];
  // Bounded: each match moves past the one before.
  for (let m = delimiter.exec(body); m; m = delimiter.exec(body)) {
    const lineStart = m.index;
    // The line break ahead of a delimiter belongs to it (RFC 2046 §5.1.1), not to the part before.
    const before = lineStart === bodyStart ? lineStart : lineStart - (text[lineStart - 2] === '\r' ? 2 : 1);
    found.push({ lineStart, after: m.index + m[0].length, before, close: !!m[1] });
    if (m[1]) break;
  }
  for (let i = 0; i + 1 < found.length; i++) {
    const open = found[i];
    const next = found[i + 1];
    if (open.close) break;
    const partEnd = Math.max(open.after, next.before);
    entity.children.push({
      entity: parseEntity(text, open.after, partEnd, depth + 1),
      removeStart: open.lineStart,
      removeEnd: next.lineStart,
    });
  }
  const last = found[found.length - 1];
  if (last?.close) entity.closeAt = last.lineStart;
  return entity;
}

/** The top-level header of the message. */
const topFields = (text: string): Field[] => fieldsOf(text, 0, bodyOffset(text, 0, text.length));

/** RFC 2047 encoded words (and RFC 2231 values, which nodemailer's parser hands back as encoded words), decoded. */
function decodeWords(value: string): string {
  // White space between two encoded words is not part of the text (RFC 2047 §6.2).
  const joined = value.replace(/(\?=)\s+(?==\?)/g, '$1');
  return joined.replace(/=\?([^?*]+)(?:\*[^?]*)?\?([bBqQ])\?([^?]*)\?=/g, (word, charset: string, encoding: string, data: string) => {
    const bytes =
      encoding.toUpperCase() === 'B'
        ? Buffer.from(data, 'base64')
        : Buffer.from(
            data.replace(/_/g, ' ').replace(/=([0-9a-fA-F]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16))),
            'latin1',
          );
    try {
      return new TextDecoder(charset.trim().toLowerCase()).decode(bytes);
    } catch {
      return word; // a charset Node does not know: the word as it is beats a wrong guess
    }
  });
}

/** Quoted-printable (RFC 2045 §6.7) decoded to bytes. */
function decodeQuotedPrintable(text: string): Buffer {
  const unwrapped = text.replace(/[ \t]+(?=\r?\n)/g, '').replace(/=\r?\n/g, '');
  return Buffer.from(
    unwrapped.replace(/=([0-9a-fA-F]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16))),
    'latin1',
  );
}

/** The bytes of a leaf part, its Content-Transfer-Encoding undone. */
function contentOf(text: string, entity: Entity): Buffer {
  const body = text.slice(entity.bodyStart, entity.end);
  const encoding = (field(entity, 'content-transfer-encoding') || '7bit').toLowerCase();
  if (encoding === 'base64') return Buffer.from(body, 'base64');
  if (encoding === 'quoted-printable') return decodeQuotedPrintable(body);
  return Buffer.from(body, 'latin1');
}

/** A leaf part that is a file: Content-Disposition attachment, or a part with a file name (an inline image). */
function asAttachment(text: string, entity: Entity): DraftAttachment | undefined {
  if (entity.boundary) return undefined;
  const type = parseHeaderValue(field(entity, 'content-type') || 'text/plain', { stripComments: true });
  const disposition = parseHeaderValue(field(entity, 'content-disposition') || '', { stripComments: true });
  const rawName = disposition.params.filename || type.params.name;
  const isAttachment = disposition.value.toLowerCase() === 'attachment';
  if (!isAttachment && !rawName) return undefined;
  const contentId = field(entity, 'content-id')?.replace(/^<|>$/g, '');
  return {
    name: rawName ? decodeWords(rawName) : 'attachment',
    contentType: type.value.toLowerCase() || 'application/octet-stream',
    ...(contentId ? { contentId } : {}),
    isInline: !isAttachment && (disposition.value.toLowerCase() === 'inline' || !!contentId),
    content: contentOf(text, entity),
  };
}

/** The top-level To and Cc addresses, lower case, each once (groups flattened). */
export function headerRecipients(mime: Buffer): string[] {
  const fields = topFields(mime.toString('latin1')).filter((f) => f.name === 'to' || f.name === 'cc');
  const addresses = fields.flatMap((f) =>
    addressparser(Buffer.from(f.value, 'latin1').toString('utf8'), { flatten: true }).map((a) => a.address.toLowerCase()),
  );
  return [...new Set(addresses.filter(Boolean))];
}

/**
 * The message with a Bcc header at the top of its header block: Graph sends to the To, Cc and Bcc
 * of the MIME, so envelope recipients the headers do not name go there. Exchange takes the Bcc
 * header out of what the recipients get. One address a line, so no line grows past RFC 5322's 998.
 */
export function withBcc(mime: Buffer, addresses: readonly string[]): Buffer {
  if (!addresses.length) return mime;
  const eol = /^[^\n]*\r\n/.test(mime.subarray(0, 4096).toString('latin1')) ? '\r\n' : '\n';
  const line = `Bcc: ${addresses.join(`,${eol} `)}${eol}`;
  return Buffer.concat([Buffer.from(line, 'utf8'), mime]);
}

/** One byte range to replace: [start, end) becomes `insert`. */
interface Edit {
  start: number;
  end: number;
  insert: string;
}

/** What a multipart left with no part gets, so the draft stays valid MIME (RFC 2046 §5.1.1: at least one body part). */
const emptyPart = (boundary: string, eol: string) => `--${boundary}${eol}Content-Type: text/plain; charset=us-ascii${eol}${eol}${eol}`;

/** The edits that take the parts `removed` out; a multipart left empty gets an empty text part. */
function editsFor(root: Entity, removed: ReadonlySet<Entity>, eol: string): Edit[] {
  const edits: Edit[] = [];
  const visit = (entity: Entity) => {
    for (const child of entity.children) {
      if (removed.has(child.entity)) edits.push({ start: child.removeStart, end: child.removeEnd, insert: '' });
      else visit(child.entity);
    }
    if (entity.children.length && entity.children.every((c) => removed.has(c.entity)) && entity.closeAt !== undefined) {
      edits.push({ start: entity.closeAt, end: entity.closeAt, insert: emptyPart(entity.boundary!, eol) });
    }
  };
  visit(root);
  return edits;
}

const sizeAfter = (total: number, edits: Edit[]): number => edits.reduce((n, e) => n - (e.end - e.start) + e.insert.length, total);

/** The leaf parts that are files, in every multipart (nodemailer nests related inside alternative). */
function attachmentsOf(text: string, entity: Entity, out: { entity: Entity; attachment: DraftAttachment; size: number }[] = []) {
  for (const { entity: part } of entity.children) {
    const attachment = asAttachment(text, part);
    if (attachment) out.push({ entity: part, attachment, size: part.end - part.start });
    else attachmentsOf(text, part, out);
  }
  return out;
}

/**
 * The message as a draft small enough for one Graph request (its base64 at most `maxBase64Bytes`),
 * and the attachments taken out of it to be added to the draft one by one: the largest first, only
 * as many as needed. Everything else stays byte for byte as it was. Throws DraftTooLargeError when
 * even without every attachment the draft does not fit.
 */
export function splitForDraft(mime: Buffer, maxBase64Bytes: number): { draft: Buffer; attachments: DraftAttachment[] } {
  if (base64Length(mime.length) <= maxBase64Bytes) return { draft: mime, attachments: [] };
  const text = mime.toString('latin1');
  const eol = /^[^\n]*\r\n/.test(text.slice(0, 4096)) ? '\r\n' : '\n';
  const root = parseEntity(text, 0, text.length);
  const candidates = attachmentsOf(text, root).sort((a, b) => b.size - a.size);
  const removed = new Set<Entity>();
  const taken: DraftAttachment[] = [];
  let edits: Edit[] = [];
  for (const candidate of candidates) {
    removed.add(candidate.entity);
    taken.push(candidate.attachment);
    edits = editsFor(root, removed, eol);
    if (base64Length(sizeAfter(text.length, edits)) <= maxBase64Bytes) break;
  }
  const size = base64Length(sizeAfter(text.length, edits));
  if (size > maxBase64Bytes) throw new DraftTooLargeError(size, maxBase64Bytes);
  const pieces: Buffer[] = [];
  let at = 0;
  for (const edit of edits.sort((a, b) => a.start - b.start)) {
    pieces.push(mime.subarray(at, edit.start), Buffer.from(edit.insert, 'latin1'));
    at = edit.end;
  }
  pieces.push(mime.subarray(at));
  return { draft: Buffer.concat(pieces), attachments: taken };
}

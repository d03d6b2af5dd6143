import addressparser from 'nodemailer/lib/addressparser';
import { ErrorCodes, mailError } from '../errors/errors';
import { text, type Param, type Text } from '../errors/texts';

export interface Address {
  name: string;
  address: string;
}

/** A deliberately loose check (RFC 5321 leaves the local part to the receiving server). */
const ADDRESS = /^[^\s@<>(),;:"[\]\\]+@[^\s@<>(),;:"[\]\\]+$/;

/**
 * The longest entry of a list: an address with its name as one header line may hold it (RFC 5322
 * §2.1.1). Longer is never one recipient but a list whose separators went missing (an unclosed
 * quote swallows the rest), and addressparser's time grows faster than the length of its input.
 */
const MAX_ENTRY = 998;

/**
 * Splits a recipient list on commas and semicolons that are not inside quotes or angle brackets.
 * nodemailer's addressparser would merge a bare word into the next entry's name or drop it,
 * so each entry is parsed on its own and must hold exactly one address. One pass, entries sliced
 * out as they end and handed over one at a time, so that a caller can stop early.
 */
function* splitList(list: string): Generator<string> {
  let start = 0;
  let quoted = false;
  let angle = false;
  for (let i = 0; i < list.length; i++) {
    const ch = list[i];
    if (ch === '\\' && quoted) i++;
    else if (ch === '"') quoted = !quoted;
    else if (!quoted && ch === '<') angle = true;
    else if (!quoted && ch === '>') angle = false;
    else if (!quoted && !angle && (ch === ',' || ch === ';')) {
      const part = list.slice(start, i).trim();
      if (part) yield part;
      start = i + 1;
    }
  }
  const last = list.slice(start).trim();
  if (last) yield last;
}

const lineBreak = (field: Param) =>
  mailError(ErrorCodes.EINPUT, text('errors.address.lineBreak', { field }), text('hints.address.lineBreak', { field }));

function parseOne(entry: string, field: Param): Address {
  // CR/LF in an address is not folded by nodemailer: "a@x\r\nBcc: b@y" would become a group.
  if (/[\r\n]/.test(entry)) throw lineBreak(field);
  if (entry.length > MAX_ENTRY) {
    throw mailError(
      ErrorCodes.EINPUT,
      text('errors.address.tooLong', { field, length: entry.length, entry: entry.slice(0, 80) }),
      text('hints.address.tooLong', { field }),
    );
  }
  // A bare address is what addressparser would return as it is: most entries of a long list skip it.
  if (ADDRESS.test(entry)) return { name: '', address: entry };
  const parsed = addressparser(entry);
  const one = parsed.length === 1 ? parsed[0] : undefined;
  if (!one || 'group' in one || !ADDRESS.test(one.address || '')) {
    throw mailError(
      ErrorCodes.EINPUT,
      text('errors.address.invalid', { field, entry: entry.slice(0, 200) }),
      text('hints.address.invalid', { field }),
    );
  }
  return { name: one.name || '', address: one.address };
}

/**
 * Parses a list of addresses: a comma- or semicolon-separated string, or an array of strings or
 * `{name, address}` objects. Every entry must be exactly one valid address. `field` names the
 * field in errors: a text of the catalog (fields.to) or a name as it is. Time linear in the
 * list's length. With `room`, parsing stops at room + 1 addresses: one more than there is room
 * for tells the caller there are too many, without parsing a list of 100,000.
 */
export function parseAddresses(value: unknown, field: Param, room = Infinity): Address[] {
  if (value === undefined || value === null || value === '') return [];
  const entries = Array.isArray(value) ? value : [value];
  const out: Address[] = [];
  for (const entry of entries) {
    if (out.length > room) break;
    if (typeof entry === 'string') {
      for (const part of splitList(entry)) {
        out.push(parseOne(part, field));
        if (out.length > room) break;
      }
    } else if (entry && typeof entry === 'object' && typeof (entry as Address).address === 'string') {
      const { name, address } = entry as Address;
      const written = name ? `"${String(name).replace(/["\\]/g, '\\$&')}" <${address}>` : address;
      if (/[\r\n]/.test(String(name ?? ''))) throw lineBreak(field);
      out.push(parseOne(written, field));
    } else {
      throw mailError(
        ErrorCodes.EINPUT,
        text('errors.address.notList', { field, type: typeOf(entry) }),
        text('hints.address.notList', { field }),
      );
    }
  }
  return out;
}

/** Parses a field that takes exactly one address (From, Reply-To). */
export function parseSingleAddress(value: unknown, field: Param): Address | undefined {
  const list = parseAddresses(value, field);
  if (list.length > 1)
    throw mailError(
      ErrorCodes.EINPUT,
      text('errors.address.single', { field, given: list.length }),
      text('hints.address.single', { field }),
    );
  return list[0];
}

/** Names a value's type for an error message ("an object", "a number", "an array"), as a text of the catalog. */
export function typeOf(value: unknown): Text {
  if (value === null) return text('types.null');
  if (Array.isArray(value)) return text('types.array');
  if (Buffer.isBuffer(value)) return text('types.buffer');
  if (value === undefined) return text('types.nothing');
  return text(`types.${typeof value}`);
}

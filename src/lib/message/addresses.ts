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
 * Splits a recipient list on commas and semicolons that are not inside quotes or angle brackets.
 * nodemailer's addressparser would merge a bare word into the next entry's name or drop it,
 * so each entry is parsed on its own and must hold exactly one address.
 */
function splitList(list: string): string[] {
  const parts: string[] = [];
  let current = '';
  let quoted = false;
  let angle = false;
  for (let i = 0; i < list.length; i++) {
    const ch = list[i];
    if (ch === '\\' && quoted) {
      current += ch + (list[++i] ?? '');
      continue;
    }
    if (ch === '"') quoted = !quoted;
    else if (!quoted && ch === '<') angle = true;
    else if (!quoted && ch === '>') angle = false;
    else if (!quoted && !angle && (ch === ',' || ch === ';')) {
      parts.push(current);
      current = '';
      continue;
    }
    current += ch;
  }
  parts.push(current);
  return parts.map((p) => p.trim()).filter(Boolean);
}

const lineBreak = (field: Param) =>
  mailError(ErrorCodes.EINPUT, text('errors.address.lineBreak', { field }), text('hints.address.lineBreak', { field }));

function parseOne(entry: string, field: Param): Address {
  // CR/LF in an address is not folded by nodemailer: "a@x\r\nBcc: b@y" would become a group.
  if (/[\r\n]/.test(entry)) throw lineBreak(field);
  const parsed = addressparser(entry);
  const one = parsed.length === 1 ? parsed[0] : undefined;
  if (!one || 'group' in one || !ADDRESS.test(one.address || '')) {
    throw mailError(ErrorCodes.EINPUT, text('errors.address.invalid', { field, entry }), text('hints.address.invalid', { field }));
  }
  return { name: one.name || '', address: one.address };
}

/**
 * Parses a list of addresses: a comma- or semicolon-separated string, or an array of strings or
 * `{name, address}` objects. Every entry must be exactly one valid address. `field` names the
 * field in errors: a text of the catalog (fields.to) or a name as it is.
 */
export function parseAddresses(value: unknown, field: Param): Address[] {
  if (value === undefined || value === null || value === '') return [];
  const entries = Array.isArray(value) ? value : [value];
  const out: Address[] = [];
  for (const entry of entries) {
    if (typeof entry === 'string') {
      for (const part of splitList(entry)) out.push(parseOne(part, field));
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

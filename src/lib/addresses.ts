import addressparser from 'nodemailer/lib/addressparser';
import { ErrorCodes, mailError } from './errors';

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

function parseOne(entry: string, field: string): Address {
  // CR/LF in an address is not folded by nodemailer: "a@x\r\nBcc: b@y" would become a group.
  if (/[\r\n]/.test(entry)) throw mailError(ErrorCodes.EINPUT, `${field} contains a line break`, `Remove line breaks from ${field}.`);
  const parsed = addressparser(entry);
  const one = parsed.length === 1 ? parsed[0] : undefined;
  if (!one || 'group' in one || !ADDRESS.test(one.address || '')) {
    throw mailError(ErrorCodes.EINPUT, `${field} has an invalid address: "${entry}"`, `Write each ${field} address as name@example.com or Name <name@example.com>, separated by commas.`);
  }
  return { name: one.name || '', address: one.address };
}

/**
 * Parses a list of addresses: a comma- or semicolon-separated string, or an array of strings or
 * `{name, address}` objects. Every entry must be exactly one valid address.
 */
export function parseAddresses(value: unknown, field: string): Address[] {
  if (value === undefined || value === null || value === '') return [];
  const entries = Array.isArray(value) ? value : [value];
  const out: Address[] = [];
  for (const entry of entries) {
    if (typeof entry === 'string') {
      for (const part of splitList(entry)) out.push(parseOne(part, field));
    } else if (entry && typeof entry === 'object' && typeof (entry as Address).address === 'string') {
      const { name, address } = entry as Address;
      const text = name ? `"${String(name).replace(/["\\]/g, '\\$&')}" <${address}>` : address;
      if (/[\r\n]/.test(String(name ?? ''))) throw mailError(ErrorCodes.EINPUT, `${field} contains a line break`, `Remove line breaks from ${field}.`);
      out.push(parseOne(text, field));
    } else {
      throw mailError(ErrorCodes.EINPUT, `${field} must be a string or a list of addresses, not ${describeType(entry)}`, `Set ${field} to text such as a@example.com, b@example.com, or an array of addresses.`);
    }
  }
  return out;
}

/** Parses a field that takes exactly one address (From, Reply-To). */
export function parseSingleAddress(value: unknown, field: string): Address | undefined {
  const list = parseAddresses(value, field);
  if (list.length > 1) throw mailError(ErrorCodes.EINPUT, `${field} takes one address, got ${list.length}`, `Give a single ${field} address.`);
  return list[0];
}

/** Names a value's type for an error message ("an object", "a number", "an array"). */
export function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (Buffer.isBuffer(value)) return 'a Buffer';
  if (value === undefined) return 'nothing';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

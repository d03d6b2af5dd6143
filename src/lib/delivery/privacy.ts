import addressparser from 'nodemailer/lib/addressparser';
import type Mail from 'nodemailer/lib/mailer';
import type { Localizable } from '../errors/errors';
import type { Param, Params } from '../errors/texts';

/**
 * What the Outbox list, the log and the retry warnings may show of a mail's recipients. Users with
 * read permission see the Outbox list; Bcc recipients must stay hidden there as they are in the
 * message itself (RFC 5322 §3.6.3).
 */

/** RFC 5322's form for a mail whose recipients are all hidden (§3.6.3: a group with no members). */
export const UNDISCLOSED = 'undisclosed-recipients:;';

/** The addresses of a header value as nodemailer takes it: strings ("Name <a@b>, c@d"), address objects, or lists of them. */
const addressesOf = (value: unknown): string[] =>
  (Array.isArray(value) ? value : value ? [value] : [])
    .flatMap((a) => (typeof a === 'string' ? addressparser(a, { flatten: true }).map((p) => p.address) : [(a as Mail.Address)?.address]))
    .filter((a): a is string => !!a);

/** The recipients a list may show: To, else Cc, else undisclosed. Never the envelope, which holds Bcc. */
export function shownRecipients(message: Pick<Mail.Options, 'to' | 'cc'>): string {
  const to = addressesOf(message.to);
  const list = to.length ? to : addressesOf(message.cc);
  return list.length ? list.join(', ') : UNDISCLOSED;
}

/** The addresses the message itself shows to every recipient (From, To, Cc): an answer may name them. */
export function visibleAddresses(message: Pick<Mail.Options, 'from' | 'to' | 'cc'>): string[] {
  return [...addressesOf(message.from), ...addressesOf(message.to), ...addressesOf(message.cc)].map((a) => a.toLowerCase());
}

const ADDRESS = /[^\s<>"'(),;:[\]@]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+/g;

/** A server's answer with every address masked that the message does not show (a Bcc recipient's): `b…@example.com`. */
export function maskAddresses(answer: string, visible: readonly string[]): string {
  return answer.replace(ADDRESS, (address) => {
    if (visible.includes(address.toLowerCase())) return address;
    const at = address.lastIndexOf('@');
    return `${address[0]}…${address.slice(at)}`;
  });
}

const maskParam = (value: Param, visible: readonly string[]): Param =>
  typeof value === 'string'
    ? maskAddresses(value, visible)
    : typeof value === 'number'
      ? value
      : { key: value.key, ...(value.params ? { params: maskParams(value.params, visible) } : {}) };

const maskParams = (params: Params, visible: readonly string[]): Params =>
  Object.fromEntries(Object.entries(params).map(([k, v]) => [k, maskParam(v, visible)]));

/** An error as a list or log may show it: its words and their parameters masked. */
export function maskError<E extends Localizable>(err: E, visible: readonly string[]): E {
  const out = { ...err, message: maskAddresses(err.message, visible) };
  if (err.hint !== undefined) out.hint = maskAddresses(err.hint, visible);
  if (err.params) out.params = maskParams(err.params, visible);
  if (err.hintParams) out.hintParams = maskParams(err.hintParams, visible);
  return out;
}

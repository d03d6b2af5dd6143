import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import nodemailer from 'nodemailer';
import type Mail from 'nodemailer/lib/mailer';
import type StreamTransport from 'nodemailer/lib/stream-transport';
import type { MessageSigning } from './dkim-signing';

/** A message built as the SMTP transport would send it: the same Message-ID, headers and MIME parts. */
export interface Composed<T> {
  messageId: string;
  envelope: { from: string; to: string[] };
  message: T;
}

// nodemailer's own stream transport builds the message exactly as its SMTP transport does (the
// same MailComposer, the same defaults), with local files and URLs shut off as on every transport.
// Except for one thing: it keeps Bcc in the headers (sendmail needs them there). The outbox sends
// what it stores to every recipient, so it builds through a transport of its own that, like the
// SMTP transport, keeps the Bcc addresses in the envelope only.
const streaming = nodemailer.createTransport(
  {
    name: 'outbox',
    version: '1',
    send(
      mail: { message: { keepBcc: boolean; getEnvelope(): unknown; messageId(): string; createReadStream(): Readable } },
      done: (err: Error | null, info?: unknown) => void,
    ) {
      mail.message.keepBcc = false;
      let message: Readable;
      try {
        message = mail.message.createReadStream();
      } catch (e) {
        return done(e as Error);
      }
      // Until the outbox reads it, an error (a download that failed) is kept by the stream, not thrown.
      message.on('error', () => undefined);
      done(null, { envelope: mail.message.getEnvelope(), messageId: mail.message.messageId(), message });
    },
  } as unknown as Parameters<typeof nodemailer.createTransport>[0],
  { disableFileAccess: true, disableUrlAccess: true },
);

function composed<T>(info: StreamTransport.SentMessageInfo): Composed<T> {
  const envelope = info.envelope as { from: string | false; to: string[] };
  return { messageId: info.messageId, envelope: { from: envelope.from || '', to: envelope.to }, message: info.message as unknown as T };
}

/**
 * The built message as a stream (read it once), Bcc in the envelope only: for the outbox, which
 * writes it to disk. With `signing` it is DKIM-signed here, where it is built, so that every way it
 * leaves (the SMTP pool, Graph, the disk or Redis outbox, a preview) has the same signed bytes.
 */
export async function composeStream(message: Mail.Options, signing?: MessageSigning): Promise<Composed<Readable>> {
  const built = composed<Readable>(
    (await streaming.sendMail(signing?.dkim ? { ...message, dkim: signing.dkim } : message)) as unknown as StreamTransport.SentMessageInfo,
  );
  if (signing?.sign) {
    built.message = signing.sign(built.message);
    built.message.on('error', () => undefined);
  }
  return built;
}

/** The built message in memory, exactly as the outbox and the server get it: for a preview (.eml). */
export async function composeBuffer(message: Mail.Options, signing?: MessageSigning): Promise<Composed<Buffer>> {
  const built = await composeStream(message, signing);
  const chunks: Buffer[] = [];
  for await (const chunk of built.message) chunks.push(chunk as Buffer);
  return { ...built, message: Buffer.concat(chunks) };
}

/**
 * Gives the message its Message-ID before the first attempt (nodemailer would make a new one per
 * attempt), in nodemailer's own form: <random@sender's domain>.
 */
export function fixMessageId(message: Mail.Options): void {
  if (message.messageId || hasHeader(message.headers, 'message-id')) return;
  const from = typeof message.from === 'string' ? message.from : message.from && 'address' in message.from ? message.from.address : '';
  const domain =
    (from || '')
      .split('@')
      .pop()
      ?.replace(/[<>\s]/g, '') || 'localhost';
  message.messageId = `<${randomUUID()}@${domain}>`;
}

function hasHeader(headers: Mail.Options['headers'], name: string): boolean {
  if (!headers) return false;
  const keys = Array.isArray(headers) ? headers.map((h) => h.key) : Object.keys(headers);
  return keys.some((k) => k.toLowerCase() === name);
}

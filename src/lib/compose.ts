import type { Readable } from 'node:stream';
import nodemailer from 'nodemailer';
import type Mail from 'nodemailer/lib/mailer';
import type StreamTransport from 'nodemailer/lib/stream-transport';

/** A message built as the SMTP transport would send it: the same Message-ID, headers and MIME parts. */
export interface Composed<T> {
  messageId: string;
  envelope: { from: string; to: string[] };
  message: T;
}

// nodemailer's own stream transport builds the message exactly as its SMTP transport does (the
// same MailComposer, the same defaults), with local files and URLs shut off as on every transport.
const streaming = nodemailer.createTransport({ streamTransport: true, newline: 'windows', disableFileAccess: true, disableUrlAccess: true });
const buffering = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'windows', disableFileAccess: true, disableUrlAccess: true });

function composed<T>(info: StreamTransport.SentMessageInfo): Composed<T> {
  const envelope = info.envelope as { from: string | false; to: string[] };
  return { messageId: info.messageId, envelope: { from: envelope.from || '', to: envelope.to }, message: info.message as unknown as T };
}

/** The built message as a stream (read it once): for the outbox, which writes it to disk. */
export async function composeStream(message: Mail.Options): Promise<Composed<Readable>> {
  return composed<Readable>(await streaming.sendMail(message));
}

/** The built message in memory: for a preview (.eml). */
export async function composeBuffer(message: Mail.Options): Promise<Composed<Buffer>> {
  return composed<Buffer>(await buffering.sendMail(message));
}

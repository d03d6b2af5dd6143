// An SMTP server on loopback shaped like Exchange Online's SMTP AUTH submission: XOAUTH2 only,
// at most 3 authenticated sessions per mailbox (the next AUTH gets the 432 of the fixtures), the
// From of each message checked against the mailbox (SendAsDenied), and switches for the recipient
// quota and a full mailbox. Every answer is the provider's own text from the fixtures.
import type { AddressInfo } from 'node:net';
import { SMTPServer, type SMTPServerEnvelope } from 'smtp-server';
import { simpleParser } from 'mailparser';
import { smtpError, type ReadMail } from './smtp';
import providers from '../fixtures/provider-responses.json';

/** The response of the fixtures that contains this text. */
export const answer = (text: string): string => providers.smtp.find((r) => r.response.includes(text))!.response;
const CONCURRENCY = answer('Concurrent connections limit exceeded');
const SEND_AS_DENIED = answer('5.2.252 SendAsDenied');
const QUOTA = answer('SubmissionQuotaExceededException');
const MAILBOX_FULL = answer('mailbox full');

export interface ExchangeOptions {
  /** Whether the token is good for that mailbox. */
  tokens: (user: string, token: string) => boolean;
  /** Authenticated sessions per mailbox (3). */
  limit?: number;
  /** A fixed port (default: a free one). */
  port?: number;
}

/** A message the server accepted. */
export interface ExchangeMessage {
  parsed: ReadMail;
  envelope: SMTPServerEnvelope;
  /** The mailbox that sent it, lower case. */
  user: string;
}

export interface ExchangeStats {
  /** Open now. */
  connections: number;
  peakConnections: number;
  /** Per mailbox, highest. */
  peakSessions: number;
  /** 432 answers. */
  refusals: number;
  auths: number;
}

/** Switches that answer every message with that provider error. */
export interface ExchangeSwitches {
  quotaExceeded: boolean;
  mailboxFull: boolean;
  /** Holds the answer to every DATA until letGo(): each message keeps its connection busy, as a slow server's. */
  holdAnswers: boolean;
}

export interface ExchangeServer {
  port: number;
  messages: ExchangeMessage[];
  stats: ExchangeStats;
  switches: ExchangeSwitches;
  waitForMessages(n: number): Promise<ExchangeMessage[]>;
  /** Resolves once the server gave `n` 432 answers in all. */
  waitForRefusals(n: number): Promise<void>;
  /** Answers the held messages and stops holding. */
  letGo(): void;
  /** Another client logs in to the mailbox n times and stays connected. */
  occupy(user: string, n: number): void;
  /** That other client goes away. */
  release(user: string): void;
  close(): Promise<void>;
}

/**
 * Starts the server on 127.0.0.1.
 * - tokens(user, token): whether the token is good for that mailbox
 * - limit: authenticated sessions per mailbox (3)
 * - port: a fixed port (default: a free one)
 * Returns { port, messages, waitForMessages(n), stats, occupy(user, n), release(user), switches, close() }:
 * - stats: connections (open now), peakConnections, peakSessions (per mailbox, highest), refusals (432s), auths
 * - occupy / release: sessions of another client on the same mailbox, counted against the limit
 * - switches: { quotaExceeded, mailboxFull } answer every message with that provider error
 */
export async function startExchange({ tokens, limit = 3, port = 0 }: ExchangeOptions): Promise<ExchangeServer> {
  const messages: ExchangeMessage[] = [];
  const waiters: { n: number; resolve: (messages: ExchangeMessage[]) => void }[] = [];
  const sessions = new Map<string, Set<string>>(); // mailbox -> Set of session ids (or 'other-n' for another client)
  const stats: ExchangeStats = { connections: 0, peakConnections: 0, peakSessions: 0, refusals: 0, auths: 0 };
  const switches: ExchangeSwitches = { quotaExceeded: false, mailboxFull: false, holdAnswers: false };
  const heldAnswers: (() => void)[] = [];
  const refusalWaiters: { n: number; resolve: () => void }[] = [];
  const of = (user: string) => {
    if (!sessions.has(user)) sessions.set(user, new Set());
    return sessions.get(user)!;
  };
  const server = new SMTPServer({
    disabledCommands: ['STARTTLS'],
    hideSTARTTLS: true,
    authMethods: ['XOAUTH2'],
    allowInsecureAuth: true,
    logger: false,
    onConnect(_session, cb) {
      stats.connections++;
      stats.peakConnections = Math.max(stats.peakConnections, stats.connections);
      cb();
    },
    onAuth(auth, session, cb) {
      stats.auths++;
      // smtp-server refuses an XOAUTH2 login (the only method offered) without a user or a token before it asks onAuth.
      const user = auth.username as string;
      if (!tokens(user, auth.accessToken as string))
        return cb(smtpError('535 5.7.3 Authentication unsuccessful [BN9PR03CA0123.namprd03.prod.outlook.com]'));
      const held = of(user.toLowerCase());
      if (held.size >= limit) {
        stats.refusals++;
        for (const w of [...refusalWaiters]) if (stats.refusals >= w.n) refusalWaiters.splice(refusalWaiters.indexOf(w), 1)[0].resolve();
        return cb(smtpError(CONCURRENCY));
      }
      held.add(session.id);
      stats.peakSessions = Math.max(stats.peakSessions, held.size);
      cb(null, { user: user.toLowerCase() });
    },
    onClose(session) {
      stats.connections--;
      if (session.user) of(session.user).delete(session.id);
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', async () => {
        const raw = Buffer.concat(chunks);
        const parsed = await simpleParser(raw);
        const from = parsed.from && parsed.from.value[0] && parsed.from.value[0].address!.toLowerCase();
        if (from !== session.user)
          return cb(smtpError(SEND_AS_DENIED.replace('sender@contoso.com', session.user).replace('other@contoso.com', String(from))));
        if (switches.quotaExceeded) return cb(smtpError(QUOTA));
        if (switches.mailboxFull) return cb(smtpError(MAILBOX_FULL));
        const accept = () => {
          messages.push({ parsed: parsed as ReadMail, envelope: session.envelope, user: session.user });
          cb(null, `2.6.0 <${parsed.messageId}> Queued mail for delivery`);
          for (const w of [...waiters]) {
            if (messages.length >= w.n) {
              waiters.splice(waiters.indexOf(w), 1);
              w.resolve(messages.slice(0, w.n));
            }
          }
        };
        if (switches.holdAnswers) heldAnswers.push(accept);
        else accept();
      });
    },
  });
  server.on('error', () => {}); // a client that cuts its connection is not the server's problem
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  let others = 0;
  return {
    port: (server.server.address() as AddressInfo).port,
    messages,
    stats,
    switches,
    waitForRefusals(n) {
      return stats.refusals >= n ? Promise.resolve() : new Promise((resolve) => refusalWaiters.push({ n, resolve }));
    },
    letGo() {
      switches.holdAnswers = false;
      for (const accept of heldAnswers.splice(0)) accept();
    },
    waitForMessages(n) {
      if (messages.length >= n) return Promise.resolve(messages.slice(0, n));
      return new Promise((resolve) => waiters.push({ n, resolve }));
    },
    /** Another client logs in to the mailbox n times and stays connected. */
    occupy(user, n) {
      for (let i = 0; i < n; i++) of(user.toLowerCase()).add(`other-${++others}`);
    },
    /** That other client goes away. */
    release(user) {
      const held = of(user.toLowerCase());
      for (const id of [...held]) if (String(id).startsWith('other-')) held.delete(id);
    },
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

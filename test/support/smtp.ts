// A real SMTP server on loopback that parses every message it accepts.
import type { AddressInfo } from 'node:net';
import { SMTPServer, type SMTPServerAddress, type SMTPServerEnvelope, type SMTPServerSession } from 'smtp-server';
import { simpleParser, type AddressObject, type ParsedMail } from 'mailparser';

/** An error with the SMTP reply code smtp-server answers with. */
export interface SmtpError extends Error {
  responseCode: number;
}

/** An error that smtp-server answers with exactly this response line ("535 5.7.139 …"). */
export function smtpError(response: string): SmtpError {
  const [, code, text] = /^(\d{3})[ -](.*)$/s.exec(response.split('\n').pop() as string) as RegExpExecArray;
  const err = new Error(text) as SmtpError;
  err.responseCode = Number(code);
  return err;
}

/** What the server makes of an XOAUTH2 token: accepted (true), refused with a 334 challenge, or refused with a bare 535. */
export type TokenVerdict = boolean | 'challenge' | 'reject';

export interface SmtpOptions {
  /** { name: password } for PLAIN/LOGIN */
  users?: Record<string, string>;
  /** The verdict on each XOAUTH2 login. */
  tokens?: (user: string, token: string) => TokenVerdict;
  onRcpt?: (address: SMTPServerAddress, session: SMTPServerSession) => Error | undefined;
  onMailFrom?: (address: SMTPServerAddress, session: SMTPServerSession) => Error | undefined;
  /** The response to refused credentials, e.g. "535 5.7.139 …" */
  authError?: string;
  /** To refuse a message after DATA. */
  onData?: (parsed: ParsedMail, session: SMTPServerSession) => Error | undefined;
  /** To answer a stored message later, as a slow server does. */
  holdAnswer?: (answer: () => void) => void;
  /**
   * To decide on a message later, as a slow MTA does: it counts as received only if accepted while
   * its client is still connected (one that hung up first left the transaction unfinished).
   */
  decideLater?: (message: HeldMessage) => void;
  /** false to accept mail without authentication */
  auth?: boolean;
  /** To refuse a connection at the greeting. */
  onConnect?: (session: SMTPServerSession) => Error | undefined;
  /** Implicit TLS (with key and cert). */
  secure?: boolean;
  key?: Buffer;
  cert?: Buffer;
  /** The SIZE limit in bytes. */
  size?: number;
  /** A fixed port (default: a free one). */
  port?: number;
}

/**
 * A message as the tests read it: mailparser's ParsedMail, where each address header (the nodes write
 * one of each at most) is one AddressObject, not a list, and html and text are the strings. A test
 * reads only the fields its message has; one that is missing fails the test at that line.
 */
export interface ReadMail extends Omit<ParsedMail, 'to' | 'cc' | 'bcc' | 'from' | 'replyTo' | 'html' | 'text'> {
  to: AddressObject;
  cc: AddressObject;
  bcc?: AddressObject;
  from: AddressObject;
  replyTo: AddressObject;
  html: string;
  text: string;
}

/** A message whose answer a slow server holds: decide() answers 250, or the refusal given. */
export interface HeldMessage {
  messageId: string | undefined;
  decide(refusal?: string): void;
}

/** smtp-server's connection, as far as the tests look at it. */
interface Connection {
  session: SMTPServerSession;
  _socket: { destroyed: boolean; destroy(): void };
}

/** A message the server accepted. */
export interface ReceivedMessage {
  raw: string;
  parsed: ReadMail;
  envelope: SMTPServerEnvelope;
  /** Who logged in (their user name), if anybody did. */
  user: string | undefined;
  /** Epoch ms when the server accepted it. */
  at: number;
}

export interface AuthAttempt {
  method: string;
  username?: string;
  password?: string | null;
  accessToken?: string;
}

export interface SmtpServer {
  server: SMTPServer;
  port: number;
  messages: ReceivedMessage[];
  authAttempts: AuthAttempt[];
  waitForMessages(n: number): Promise<ReceivedMessage[]>;
  close(): Promise<void>;
  /** Goes away at once, as a crashed server would: listener closed, every connection cut. */
  destroy(): void;
}

/**
 * Starts smtp-server on 127.0.0.1 with a free port.
 * - users: { name: password } for PLAIN/LOGIN
 * - tokens: a function (user, token) => true | 'challenge' | 'reject' for XOAUTH2
 * - onRcpt / onMailFrom: optional (address, session) => Error|undefined
 * - authError: the response to refused credentials, e.g. "535 5.7.139 …"
 * - onData: optional (parsed) => Error|undefined, to refuse a message after DATA
 * - holdAnswer: optional (answer) => void, to answer a stored message later, as a slow server does
 * - auth: false to accept mail without authentication
 * - onConnect: optional (session) => Error|undefined, to refuse a connection at the greeting
 * Returns { port, messages, waitForMessages(n), authAttempts, close() }.
 */
export async function startSmtp(options: SmtpOptions = {}): Promise<SmtpServer> {
  const messages: ReceivedMessage[] = [];
  const authAttempts: AuthAttempt[] = [];
  const waiters: { n: number; resolve: (messages: ReceivedMessage[]) => void }[] = [];
  const settle = () => {
    for (const w of [...waiters]) {
      if (messages.length >= w.n) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(messages.slice(0, w.n));
      }
    }
  };
  const server = new SMTPServer({
    secure: !!options.secure,
    key: options.key,
    cert: options.cert,
    disabledCommands: options.auth === false ? ['AUTH', 'STARTTLS'] : options.secure || options.cert ? [] : ['STARTTLS'],
    authOptional: options.auth === false,
    authMethods: ['PLAIN', 'LOGIN', 'XOAUTH2'],
    allowInsecureAuth: true,
    hideSTARTTLS: !options.cert || !!options.secure,
    logger: false,
    size: options.size,
    onConnect(session, cb) {
      const err = options.onConnect && options.onConnect(session);
      cb(err || undefined);
    },
    onAuth(auth, _session, cb) {
      authAttempts.push({ method: auth.method, username: auth.username, password: auth.password, accessToken: auth.accessToken });
      if (auth.method === 'XOAUTH2') {
        // smtp-server refuses an XOAUTH2 login without a user or a token before it asks onAuth.
        const verdict = options.tokens ? options.tokens(auth.username as string, auth.accessToken as string) : false;
        if (verdict === true) return cb(null, { user: auth.username });
        if (verdict === 'challenge')
          return cb(null, { data: { status: '401', schemes: 'bearer', scope: 'https://outlook.office365.com/.default' } });
        return cb(smtpError(options.authError || '535 Authentication unsuccessful'));
      }
      if (options.users && options.users[auth.username as string] === auth.password) return cb(null, { user: auth.username });
      return cb(smtpError(options.authError || '535 Authentication credentials invalid'));
    },
    onMailFrom(address, session, cb) {
      const err = options.onMailFrom && options.onMailFrom(address, session);
      cb(err || undefined);
    },
    onRcptTo(address, session, cb) {
      const err = options.onRcpt && options.onRcpt(address, session);
      cb(err || undefined);
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', async () => {
        if (stream.sizeExceeded) {
          const err = new Error('Message size exceeds fixed maximum message size') as SmtpError;
          err.responseCode = 552;
          return cb(err);
        }
        const raw = Buffer.concat(chunks);
        const parsed = await simpleParser(raw);
        const refused = options.onData && options.onData(parsed, session);
        if (refused) return cb(refused);
        if (options.decideLater) {
          const socket = [...(server as unknown as { connections: Set<Connection> }).connections].find(
            (c) => c.session === session,
          )?._socket;
          let decided = false;
          return options.decideLater({
            messageId: parsed.messageId,
            decide(refusal) {
              if (decided) return;
              decided = true;
              if (refusal) return cb(smtpError(refusal));
              if (socket && !socket.destroyed) {
                messages.push({
                  raw: raw.toString('utf8'),
                  parsed: parsed as ReadMail,
                  envelope: session.envelope,
                  user: session.user,
                  at: Date.now(),
                });
                settle();
              }
              cb(null, 'Queued as ' + messages.length);
            },
          });
        }
        messages.push({
          raw: raw.toString('utf8'),
          parsed: parsed as ReadMail,
          envelope: session.envelope,
          user: session.user,
          at: Date.now(),
        });
        const answer = () => cb(null, 'Queued as ' + messages.length);
        if (options.holdAnswer) options.holdAnswer(answer);
        else answer();
        settle();
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port || 0, '127.0.0.1', resolve);
  });
  return {
    server,
    port: (server.server.address() as AddressInfo).port,
    messages,
    authAttempts,
    waitForMessages(n) {
      if (messages.length >= n) return Promise.resolve(messages.slice(0, n));
      return new Promise((resolve) => waiters.push({ n, resolve }));
    },
    close: () => new Promise((resolve) => server.close(resolve)),
    /** Goes away at once, as a crashed server would: listener closed, every connection cut. */
    destroy() {
      server.server.close();
      for (const connection of (server as unknown as { connections: Set<Connection> }).connections) connection._socket.destroy();
    },
  };
}

/** The SMTP server of startScriptedSmtp(): startSmtp()'s, with the answers a test scripts. */
export interface ScriptedSmtp extends SmtpServer {
  /** Answers DATA with this while it holds something (one per attempt). */
  refuse: string[];
  /** The Message-ID of every message the server saw, refused or not. */
  seen: (string | undefined)[];
  /** Forgets the messages, the answers not given yet and the Message-IDs seen, for the next test. */
  reset(): void;
}

/**
 * startSmtp() that answers each message with the next reply of `refuse` while it holds one (and
 * accepts it otherwise), recording the Message-ID of every message in `seen`.
 */
export async function startScriptedSmtp(options: Omit<SmtpOptions, 'onData'> = {}): Promise<ScriptedSmtp> {
  const server = await startSmtp({
    ...options,
    onData: (parsed) => {
      smtp.seen.push(parsed.messageId);
      const answer = smtp.refuse.shift();
      return answer ? smtpError(answer) : undefined;
    },
  });
  const smtp: ScriptedSmtp = Object.assign(server, {
    refuse: [] as string[],
    seen: [] as (string | undefined)[],
    reset() {
      smtp.messages.length = 0;
      smtp.refuse = [];
      smtp.seen = [];
    },
  });
  return smtp;
}

/** The SMTP server of startSlowMta(). */
export interface SlowMta extends SmtpServer {
  /** Messages whose answer is still held, oldest first. */
  held: HeldMessage[];
  /** Resolves once `n` messages were held in all. */
  waitForHeld(n: number): Promise<void>;
  /** Answers the held messages and every later one at once with 250. */
  acceptAll(): void;
}

/**
 * A server that holds its answer to DATA until the test decides, as a slow MTA does; `messages`
 * holds only what it accepted while the client was still connected (RFC 5321 §4.1.1.4: a mail is
 * the server's responsibility once it said OK, and a client that hung up before never heard it).
 */
export async function startSlowMta(options: Omit<SmtpOptions, 'decideLater'> = {}): Promise<SlowMta> {
  let seen = 0;
  let atOnce = false;
  const waiters: { n: number; resolve: () => void }[] = [];
  const held: HeldMessage[] = [];
  const mta = (await startSmtp({
    auth: false,
    ...options,
    decideLater(message) {
      seen++;
      for (const w of [...waiters]) {
        if (seen < w.n) continue;
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
      if (atOnce) return message.decide();
      const waiting: HeldMessage = {
        messageId: message.messageId,
        decide: (refusal) => {
          held.splice(held.indexOf(waiting), 1);
          message.decide(refusal);
        },
      };
      held.push(waiting);
    },
  })) as SlowMta;
  mta.held = held;
  mta.waitForHeld = (n) => (seen >= n ? Promise.resolve() : new Promise((resolve) => waiters.push({ n, resolve })));
  mta.acceptAll = () => {
    atOnce = true;
    for (const h of [...held]) h.decide();
  };
  return mta;
}

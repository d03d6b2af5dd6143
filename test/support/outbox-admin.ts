// What the Outbox tab's tests share: a Node-RED with adminAuth (an admin and a read-only user),
// driven over its admin HTTP API with each user's token, and an SMTP server on loopback that
// answers every message `451 4.3.0 Try again later` until told to accept, counting each attempt.
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import bcrypt from 'bcryptjs'; // Node-RED's own dependency, used here to hash the test users' passwords
import type { ParsedMail } from 'mailparser';
import type WS from 'ws';
import { installIntoUserDir } from '../../scripts/install-package';
import { builtDist } from './build';
import {
  deployFlows,
  freePort,
  injectNode,
  outputWatcher,
  requestToken,
  stopChild,
  waitForHttp,
  type FlowNode,
  type OutputWatcher,
} from './node-red-process';
import { startSmtp, smtpError } from './smtp';

// The websocket client Node-RED's editor API itself depends on (Node 20 has no WebSocket global).
const WebSocket = createRequire(require.resolve('@node-red/editor-api/package.json'))('ws') as typeof WS;

/** A user of the test Node-RED: the password to log in with, the permissions adminAuth grants. */
export interface TestUser {
  password: string;
  permissions: string;
}
export type UserName = 'admin' | 'viewer';

export const USERS: Record<UserName, TestUser> = {
  admin: { password: 'admin-pw-4e1c', permissions: '*' },
  viewer: { password: 'viewer-pw-93b7', permissions: 'read' },
};

/** The node statuses the editor shows, as watchStatus() follows them. */
export interface StatusWatcher {
  /** A mark: until() looks only at statuses that came after it. */
  mark(): number;
  /** Resolves once node `id` showed a status text that is `text`, after `from`. */
  until(id: string, text: string, from?: number): Promise<void>;
}

/** What startAuthNodeRed() returns. */
export interface AuthNodeRed {
  url: string;
  port: number;
  userDir: string;
  output: OutputWatcher;
  /** The access token of a user (asked for once, then kept). */
  token(username: UserName): Promise<string>;
  /** fetch() on the admin API as `user` (null: without a token). */
  api(p: string, init?: RequestInit, user?: UserName | null): Promise<Response>;
  deploy(nodes: FlowNode[]): Promise<void>;
  inject(id: string): Promise<void>;
  watchStatus(): Promise<StatusWatcher>;
  close(): Promise<void>;
}

/** A message of the editor's websocket: an answer to the auth message, or a list of topics with their data. */
type CommsMessage = { auth: string } | { topic: string; data?: { text?: string } | null }[];

/**
 * Starts Node-RED on 127.0.0.1 with adminAuth on and the package packed and installed as the
 * palette does (loaded from dist/ through nodesDir, its runtime messages would not be translated:
 * status texts would read "send-smtp-email.status.retrying", without the count). A failed attempt waits an hour before the
 * next (smtpOauthConfigRetryTiming, a test hook): every attempt the server sees after the first
 * one comes from Retry now. Returns { url, userDir, output, token(user), api(path, init, user),
 * deploy(nodes), inject(id), close() }.
 */
export async function startAuthNodeRed(): Promise<AuthNodeRed> {
  const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nr-outbox-admin-'));
  let child: ChildProcess | undefined;
  try {
    builtDist(); // the tarball is packed from dist/: built from the sources of this run
    installIntoUserDir(userDir);
    const port = await freePort();
    const users = Object.entries(USERS).map(([username, u]) => ({
      username,
      password: bcrypt.hashSync(u.password, 8),
      permissions: u.permissions,
    }));
    const settings = {
      uiHost: '127.0.0.1',
      uiPort: port,
      flowFile: 'flows.json',
      credentialSecret: 'outbox-admin-test-only',
      telemetry: { enabled: false },
      editorTheme: { tours: false, palette: { catalogues: [] }, projects: { enabled: false } },
      logging: { console: { level: 'info', metrics: false, audit: false } },
      externalModules: { palette: { allowInstall: false } },
      adminAuth: { type: 'credentials', users },
      smtpOauthConfigRetryTiming: { baseMs: 3600000, maxMs: 3600000 },
    };
    fs.writeFileSync(path.join(userDir, 'settings.js'), `module.exports = ${JSON.stringify(settings, null, 2)};\n`);
    const started = spawn(
      process.execPath,
      [require.resolve('node-red/red.js'), '--userDir', userDir, '--settings', path.join(userDir, 'settings.js')],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child = started;
    const output = outputWatcher(started);
    const url = `http://127.0.0.1:${port}`;
    await waitForHttp(`${url}/auth/login`, started);
    await output.waitFor(/\[info\] (Started flows|Starting flows)/);

    const sockets: WS[] = [];
    const tokens: Partial<Record<UserName, string>> = {};
    const token = async (username: UserName): Promise<string> => {
      const kept = tokens[username];
      if (kept) return kept;
      const res = await requestToken(url, { username, password: USERS[username].password, scope: USERS[username].permissions });
      if (res.status !== 200) throw new Error(`token for ${username}: HTTP ${res.status}`);
      const { access_token } = (await res.json()) as { access_token: string };
      tokens[username] = access_token;
      return access_token;
    };
    /** fetch() on the admin API as `user` (none: without a token). */
    const api = async (p: string, init: RequestInit = {}, user: UserName | null = 'admin') => {
      const headers = new Headers(init.headers);
      if (user) headers.set('Authorization', `Bearer ${await token(user)}`);
      return fetch(url + p, { ...init, headers });
    };
    return {
      url,
      port,
      userDir,
      output,
      token,
      api,
      /** Full deploy as the admin; resolves once the runtime has started the flows. */
      async deploy(nodes) {
        await deployFlows(api, output, nodes);
      },
      inject: (id) => injectNode(api, id),
      /**
       * The node statuses the editor shows, over the editor's websocket as the admin. A mail is
       * ready for Retry now only once its send node counts it as retrying: the outbox lists the
       * mail with its new attempt (spool.update puts the record in memory, then writes it) while
       * the send is still in its failed attempt, and Retry now or Delete then answers count 0.
       */
      async watchStatus() {
        const ws = new WebSocket(`ws://127.0.0.1:${port}/comms`);
        sockets.push(ws);
        await new Promise((resolve, reject) => {
          ws.once('open', resolve);
          ws.once('error', reject);
        });
        const statuses: { id: string; text: string }[] = [];
        const waiters: { check(): boolean }[] = [];
        let authorised: () => void = () => {};
        const ok = new Promise<void>((resolve) => (authorised = resolve));
        ws.on('message', (data) => {
          const parsed = JSON.parse(data.toString()) as CommsMessage;
          if (!Array.isArray(parsed)) return parsed.auth === 'ok' && authorised();
          for (const { topic, data: d } of parsed) {
            if (!topic.startsWith('status/')) continue;
            statuses.push({ id: topic.slice('status/'.length), text: (d && d.text) || '' });
            for (const w of [...waiters]) if (w.check()) waiters.splice(waiters.indexOf(w), 1);
          }
        });
        ws.send(JSON.stringify({ auth: await token('admin') }));
        await ok;
        ws.send(JSON.stringify({ subscribe: 'status/#' }));
        return {
          /** A mark: until() looks only at statuses that came after it. */
          mark: () => statuses.length,
          /** Resolves once node `id` showed a status text that is `text`, after `from`. */
          until(id, text, from = 0) {
            return new Promise<void>((resolve) => {
              const check = () => {
                const hit = statuses.slice(from).some((st) => st.id === id && st.text === text);
                if (hit) resolve();
                return hit;
              };
              if (!check()) waiters.push({ check });
            });
          },
        };
      },
      async close() {
        for (const ws of sockets) ws.terminate();
        await stopChild(started);
        fs.rmSync(userDir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await stopChild(child);
    fs.rmSync(userDir, { recursive: true, force: true });
    throw err;
  }
}

/** The SMTP server of startSmtp(), with what startRefusingSmtp() adds. */
export type RefusingSmtp = Awaited<ReturnType<typeof startSmtp>> & {
  /** While true, every message is answered `451 4.3.0 Try again later`. */
  refuse: boolean;
  /** Every message offered, parsed (smtp.messages holds only the accepted ones). */
  offered: ParsedMail[];
  /** How many messages with this subject the server was offered (refused or not). */
  attempts(subject: string): number;
  /** Resolves once the server was offered n messages with this subject. */
  untilAttempts(subject: string, n: number): Promise<void>;
};

/**
 * An SMTP server that answers every message with `451 4.3.0 Try again later` while `refuse` is
 * true. `offered` holds every message it was offered, parsed; `attempts(subject)` counts the messages with that subject it was offered (refused or not);
 * `untilAttempts(subject, n)` resolves once there were n.
 */
export async function startRefusingSmtp(users: Record<string, string>): Promise<RefusingSmtp> {
  const seen: ParsedMail[] = [];
  const events = new EventEmitter();
  const server = await startSmtp({
    users,
    onData: (parsed: ParsedMail) => {
      seen.push(parsed);
      events.emit('attempt');
      return smtp.refuse ? smtpError('451 4.3.0 Try again later') : undefined;
    },
  });
  const attempts = (subject: string) => seen.filter((p) => p.subject === subject).length;
  const smtp: RefusingSmtp = Object.assign(server, {
    refuse: true,
    /** Every message offered, parsed (smtp.messages holds only the accepted ones). */
    offered: seen,
    attempts,
    untilAttempts: (subject: string, n: number) =>
      new Promise<void>((resolve) => {
        const check = () => {
          if (attempts(subject) < n) return;
          events.off('attempt', check);
          resolve();
        };
        events.on('attempt', check);
        check();
      }),
  });
  return smtp;
}

/**
 * Deploys outboxFlow() and clicks each of its inject nodes; the server refuses every mail, so each
 * one waits in the outbox. Resolves with the node statuses once the send node counts them all as
 * retrying: only then can Retry now reach them (see watchStatus()).
 */
export async function leaveMailsWaiting(red: AuthNodeRed, smtp: RefusingSmtp, marks: OutboxMarks): Promise<StatusWatcher> {
  await red.deploy(outboxFlow(smtp.port, marks));
  const status = await red.watchStatus();
  for (const i of marks.subjects.keys()) await red.inject(`inject${i + 1}`);
  for (const s of marks.subjects) await smtp.untilAttempts(s, 1);
  await status.until('send1', `retry ${marks.subjects.length}: EMESSAGE`);
  return status;
}

/** The recognisable strings of outboxFlow(): the credentials, the bodies and attachment, the payload, the subjects. */
export interface OutboxMarks {
  user: string;
  password: string;
  clientSecret: string;
  html: string;
  text: string;
  attachment: string;
  filename: string;
  payload: string;
  subjects: string[];
}

/**
 * The flow of these tests: a connection with its outbox on disk (user, password and a client
 * secret stored), two inject nodes (subjects in msg.topic, `payload` into the HTML body), a send
 * node with an HTML body, a text body and a text attachment, and a Catch node whose msgs are
 * logged as "FAILED <topic>: <error message>", sent msgs as "SENT <topic>".
 */
export function outboxFlow(port: number, marks: OutboxMarks): FlowNode[] {
  return [
    { id: 'tab1', type: 'tab', label: 'outbox' },
    {
      id: 'conn1',
      type: 'smtp-oauth-config',
      name: 'Greylisting server',
      host: '127.0.0.1',
      port: String(port),
      security: 'none',
      authType: 'basic',
      outbox: 'disk',
      retryForSeconds: '86400',
      maxConnections: '1',
      credentials: { user: marks.user, password: marks.password, clientSecret: marks.clientSecret },
    },
    ...marks.subjects.map((subject, i) => ({
      id: `inject${i + 1}`,
      type: 'inject',
      z: 'tab1',
      name: subject,
      x: 200,
      y: 80 + 60 * i,
      props: [{ p: 'payload' }, { p: 'topic', vt: 'str' }],
      payload: marks.payload,
      payloadType: 'str',
      topic: subject,
      repeat: '',
      once: false,
      wires: [['send1']],
    })),
    {
      id: 'send1',
      type: 'send-smtp-email',
      z: 'tab1',
      x: 480,
      y: 110,
      connection: 'conn1',
      to: 'accounts@example.com',
      toType: 'str',
      subject: 'topic',
      subjectType: 'msg',
      html: `<p>${marks.html} {{payload}}</p>`,
      htmlType: 'str',
      text: marks.text,
      textType: 'str',
      attachmentType: 'text',
      attachment: marks.attachment,
      attachmentValueType: 'str',
      attachmentFilename: marks.filename,
      attachmentFilenameType: 'str',
      storeResult: 'none',
      wires: [['sent1']],
    },
    {
      id: 'sent1',
      type: 'function',
      z: 'tab1',
      name: 'log sent',
      x: 680,
      y: 110,
      func: "node.log('SENT ' + msg.topic);\nreturn null;",
      outputs: 1,
      wires: [[]],
    },
    {
      id: 'catch1',
      type: 'catch',
      z: 'tab1',
      name: 'send failed',
      x: 480,
      y: 200,
      scope: ['send1'],
      uncaught: false,
      wires: [['failed1']],
    },
    {
      id: 'failed1',
      type: 'function',
      z: 'tab1',
      name: 'log failure',
      x: 680,
      y: 200,
      func: "node.log('FAILED ' + msg.topic + ': ' + msg.error.message);\nreturn null;",
      outputs: 1,
      wires: [[]],
    },
  ];
}

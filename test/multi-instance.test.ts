// Several Node-RED instances on one shared outbox (outbox: redis), as real processes: two Node-REDs,
// each with its own user directory and the package installed the palette's way, run the same flows
// (the same node ids, the same credentialSecret) against one redis-server of the test's own, a real
// token endpoint and the Exchange-shaped server (XOAUTH2, 3 sessions per mailbox, 432 beyond).
// Mails go in over HTTP (http in -> send node -> http response), so every msg waits for its outcome
// and each request tells which instance answered what. Both copies load the same flows.json and
// flows_cred.json (encrypted with the shared credentialSecret) at start, as an HA setup copies them
// to every instance.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Redis from 'ioredis';
import { installIntoUserDir } from '../scripts/install-package';
import { builtDist } from './support/build';
import { startExchange, type ExchangeMessage, type ExchangeServer } from './support/exchange';
import { startNodeRed, type FlowNode, type NodeRedProcess } from './support/node-red-process';
import { startRedis, type RedisServer } from './support/redis';
import { startTokenEndpoint, type TokenEndpoint } from './support/token-endpoint';

const MAILBOX = 'mailbox@contoso.example';
const CLIENT = { clientId: 'app-multi-1', clientSecret: 'cs-multi-1' };
const REDIS_PASSWORD = 'redis-multi-pw-41c7';
const SECRET = 'multi-instance-credential-secret';
/** Connections: one without a rate limit, one paced at 40 a (shortened) minute of 4 s: one mail every 100 ms. */
const FREE = 'mltf2ee0c0nn001';
const PACED = 'mltpac3dc0nn001';
const RATE = 40;
const WINDOW_MS = 4000;
const LOCK_MS = 3000;
const POOL = 3;

/** settings.js lines of both copies: the same credentialSecret; the test hooks that shorten the waits. */
const SETTINGS = [
  `credentialSecret: '${SECRET}',`,
  `lang: 'en-US',`,
  `smtpOauthConfigRateWindowMs: ${WINDOW_MS},`,
  `smtpOauthConfigRedisLockMs: ${LOCK_MS},`,
  'smtpOauthConfigRetryTiming: { baseMs: 200, maxMs: 1000 },',
  'smtpOauthConfigCloseGraceMs: 500,',
].join('\n  ');

/** The environment without the system's locale: the log lines read in English. */
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !['LANG', 'LC_ALL', 'LC_MESSAGES'].includes(k)));

/** What one HTTP request got back: the stored result (msg.payload), or the error of a request whose instance died. */
type Answer = { subject: string; status: number; result: Result } | { subject: string; failed: Error };
interface Result {
  success: boolean;
  messageId?: string;
  attempts?: number;
  error?: { code?: string; message: string };
}

/** The flows both copies run: per connection, http in -> send node -> http response. */
function flows(exchange: ExchangeServer, idp: TokenEndpoint): { nodes: FlowNode[]; credentials: Record<string, Record<string, string>> } {
  const connection = (id: string, rate: number): FlowNode => ({
    id,
    type: 'smtp-oauth-config',
    host: '127.0.0.1',
    port: String(exchange.port),
    security: 'none',
    authType: 'oauth2-client-credentials',
    tokenUrl: idp.url,
    scope: 'https://outlook.office365.com/.default',
    maxConnections: String(POOL),
    rateLimitPerMinute: String(rate),
    retryForSeconds: '120',
    outbox: 'redis',
  });
  const route = (id: string, url: string, conn: string, y: number): FlowNode[] => [
    { id: `in-${id}`, type: 'http in', z: 'tab', url, method: 'post', upload: false, swaggerDoc: '', x: 100, y, wires: [[`send-${id}`]] },
    {
      id: `send-${id}`,
      type: 'send-smtp-email',
      z: 'tab',
      x: 300,
      y,
      connection: conn,
      to: 'to@example.com',
      toType: 'str',
      subject: 'payload.subject',
      subjectType: 'msg',
      html: '<p>{{payload.subject}}</p>',
      htmlType: 'str',
      attachmentType: 'none',
      storeResult: 'msg',
      resultKey: 'payload',
      stopOnError: false,
      async: false,
      wires: [[`out-${id}`]],
    },
    { id: `out-${id}`, type: 'http response', z: 'tab', statusCode: '', headers: {}, x: 500, y, wires: [] },
  ];
  const creds = { user: MAILBOX, ...CLIENT, redisUrl: '' };
  return {
    nodes: [
      { id: 'tab', type: 'tab', label: 'multi-instance' },
      connection(FREE, 0),
      connection(PACED, RATE),
      ...route('free', '/mail', FREE, 100),
      ...route('paced', '/paced', PACED, 200),
    ],
    credentials: { [FREE]: creds, [PACED]: creds },
  };
}

/** flows_cred.json as Node-RED writes it with a credentialSecret (aes-256-ctr, key sha256(secret)). */
function encryptedCredentials(credentials: unknown): { $: string } {
  const key = crypto.createHash('sha256').update(SECRET).digest();
  const iv = crypto.randomBytes(16);
  const cipher = crypto.createCipheriv('aes-256-ctr', key, iv);
  return { $: iv.toString('hex') + cipher.update(JSON.stringify(credentials), 'utf8', 'base64') + cipher.final('base64') };
}

/** BullMQ's job id of a Message-ID, as the shared queue makes it (shared-queue.ts jobIdOf). */
const jobIdOf = (messageId: string) => messageId.replace(/^<|>$/g, '').replace(/%/g, '%25').replace(/:/g, '%3A');

/** Rejects with `what` if `p` has not settled within `ms`. */
async function within<T>(p: Promise<T>, ms: number, what: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>(
    (_resolve, reject) => (timer = setTimeout(() => reject(new Error(`${what()} (not within ${ms} ms)`)), ms)),
  );
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

describe('several Node-RED instances on one shared outbox (real processes, Redis, Exchange-shaped server)', function () {
  this.timeout(180000);
  let redis: RedisServer;
  let idp: TokenEndpoint;
  let exchange: ExchangeServer;
  /** When the server accepted each message, by its index in exchange.messages. */
  const arrivals: number[] = [];
  const dirs: string[] = [];
  let a: NodeRedProcess | undefined;
  let b: NodeRedProcess | undefined;
  let probe: Redis;

  before(async function () {
    builtDist(); // the tarball is packed from dist/: built from the sources of this run
    redis = await startRedis({ password: REDIS_PASSWORD });
    probe = new Redis({ host: '127.0.0.1', port: redis.port, password: REDIS_PASSWORD, maxRetriesPerRequest: 1, retryStrategy: () => 50 });
    probe.on('error', () => {}); // Redis is stopped on purpose in one test
    idp = await startTokenEndpoint(CLIENT);
    exchange = await startExchange({ tokens: (user, token) => user === MAILBOX && idp.state.issued.includes(token) });
    const push = exchange.messages.push.bind(exchange.messages);
    exchange.messages.push = (...items: ExchangeMessage[]) => {
      for (let i = 0; i < items.length; i++) arrivals.push(Date.now());
      return push(...items);
    };
    const { nodes, credentials } = flows(exchange, idp);
    for (const c of Object.values(credentials)) c.redisUrl = redis.url;
    for (const name of ['a', 'b']) {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), `nr-multi-${name}-`));
      dirs.push(dir);
      installIntoUserDir(dir); // npm pack, then the palette manager's npm install arguments
      fs.writeFileSync(path.join(dir, 'flows.json'), JSON.stringify(nodes));
      fs.writeFileSync(path.join(dir, 'flows_cred.json'), JSON.stringify(encryptedCredentials(credentials)));
    }
    [a, b] = await Promise.all(dirs.map((dir) => startNodeRed(dir, SETTINGS, { env })));
    await Promise.all([a, b].map((red) => red!.output.waitFor(/\[info\] Started flows/)));
  });
  after(async function () {
    await Promise.all([a, b].map((red) => red?.close()));
    probe?.disconnect();
    await exchange?.close();
    await idp?.close();
    await redis?.close();
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Posts one mail into an instance; resolves with what the flow answered, or the request's error. */
  async function post(red: NodeRedProcess, route: string, subject: string): Promise<Answer> {
    try {
      const res = await fetch(`${red.url}${route}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ subject }),
      });
      return { subject, status: res.status, result: (await res.json()) as Result };
    } catch (e) {
      return { subject, failed: e as Error };
    }
  }
  const burst = (red: NodeRedProcess, route: string, prefix: string, n: number) =>
    Array.from({ length: n }, (_, i) => post(red, route, `${prefix}-${i}`));

  /** Resolves once the server holds messages whose subjects include every one of `subjects` (waits on its arrivals). */
  async function received(subjects: string[]): Promise<void> {
    for (let n = exchange.messages.length; ; n = exchange.messages.length + 1) {
      const have = new Set(exchange.messages.map((m) => m.parsed.subject));
      if (subjects.every((s) => have.has(s))) return;
      await exchange.waitForMessages(n);
    }
  }
  /** The messages received from index `from` on whose subject starts with `prefix`. */
  const since = (from: number, prefix: string) => exchange.messages.slice(from).filter((m) => (m.parsed.subject ?? '').startsWith(prefix));
  const output = () => `A:\n${a?.output.text.slice(-2500)}\nB:\n${b?.output.text.slice(-2500)}`;

  it('60 mails into each copy at once: all 120 delivered exactly once, at most 3 sessions, each copy answers its own msgs', async function () {
    const from = exchange.messages.length;
    const t0 = Date.now();
    const answers = await within(
      Promise.all([...burst(a!, '/mail', 'one-a', 60), ...burst(b!, '/mail', 'one-b', 60)]),
      60000,
      () => `answers\n${output()}`,
    );
    const ms = Date.now() - t0;
    const mails = exchange.messages.slice(from);
    const ids = mails.map((m) => m.parsed.messageId);
    console.log(
      `      120 mails from two copies: ${ms} ms, ${mails.length} received, peak ${exchange.stats.peakSessions} sessions, ${exchange.stats.refusals} × 432`,
    );
    assert.equal(mails.length, 120, 'each received once');
    assert.equal(new Set(ids).size, 120, 'distinct Message-IDs');
    assert.equal(exchange.stats.refusals, 0, 'no 432');
    assert.ok(exchange.stats.peakSessions <= POOL, `peak sessions ${exchange.stats.peakSessions}`);
    const idOf = new Map(mails.map((m) => [m.parsed.subject, m.parsed.messageId]));
    for (const answer of answers) {
      assert.ok('result' in answer, `${answer.subject}: ${'failed' in answer && answer.failed.message}`);
      assert.equal(answer.status, 200);
      assert.equal(answer.result.success, true, JSON.stringify(answer.result));
      // The copy the request went to answered its msg with its own mail's result, whichever copy sent it.
      assert.equal(answer.result.messageId, idOf.get(answer.subject), answer.subject);
    }
  });

  it(`keeps one rate limit of ${RATE} a (shortened) minute for both copies: never more than ${RATE} + 2 in any window at the server`, async function () {
    const from = exchange.messages.length;
    const logins = exchange.stats.auths;
    const answers = await within(
      Promise.all([...burst(a!, '/paced', 'rate-a', 60), ...burst(b!, '/paced', 'rate-b', 60)]),
      60000,
      () => `answers\n${output()}`,
    );
    for (const answer of answers) assert.ok('result' in answer && answer.result.success, JSON.stringify(answer));
    const times = arrivals.slice(from);
    assert.equal(times.length, 120);
    const busiest = Math.max(...times.map((start) => times.filter((t) => t >= start && t < start + WINDOW_MS).length));
    const span = times[times.length - 1] - times[0];
    const gaps = times
      .slice(1)
      .map((t, i) => t - times[i])
      .sort((x, y) => x - y);
    console.log(
      `      paced: 120 mails in ${span} ms; at most ${busiest} in any ${WINDOW_MS} ms (limit ${RATE}); ` +
        `gaps between arrivals ${gaps[0]}–${gaps[gaps.length - 1]} ms (median ${gaps[60]}); ${exchange.stats.auths - logins} logins`,
    );
    // Counted where the server receives them: the shared limiter paces the attempts' starts, and an
    // attempt that has to open a session (a copy's idle session ends after a few intervals) takes
    // longer to arrive than one over an open session, by up to about one interval; so one window
    // can hold one mail more than limit + 1 (seen: 42), never more.
    assert.ok(busiest <= RATE + 2, `${busiest} in one window`);
    // One mail every WINDOW_MS / RATE whichever copy sends it: 120 mails span at least ~119 intervals.
    assert.ok(span >= 0.9 * 119 * (WINDOW_MS / RATE), `120 mails in ${span} ms`);
    assert.ok(exchange.stats.peakSessions <= POOL, `peak sessions ${exchange.stats.peakSessions}`);
  });

  it('loses no mail when Redis stops and starts again mid-burst: every msg answered with a delivered result or EOUTBOX', async function () {
    const from = exchange.messages.length;
    const before = [...burst(a!, '/paced', 'redis-a', 40), ...burst(b!, '/paced', 'redis-b', 40)];
    await exchange.waitForMessages(from + 20);
    const marks = [a!.output.length, b!.output.length];
    await redis.stop();
    // Both copies noticed (each connection's Redis link says it once).
    await within(
      Promise.all(
        [a!, b!].map((red, i) =>
          red.output.waitFor(/\[warn\] \[smtp-oauth-config:[^\]]*\] Redis at 127\.0\.0\.1:\d+ did not answer/, marks[i]),
        ),
      ),
      20000,
      () => `the warnings of Redis away\n${output()}`,
    );
    // Refused while Redis is away: nothing is accepted that is kept nowhere.
    const away = await within(
      Promise.all([...burst(a!, '/paced', 'away-a', 5), ...burst(b!, '/paced', 'away-b', 5)]),
      30000,
      () => `answers while Redis is away\n${output()}`,
    );
    await redis.start();
    const after = [...burst(a!, '/paced', 'after-a', 10), ...burst(b!, '/paced', 'after-b', 10)];
    const answers = await within(Promise.all([...before, ...after]), 90000, () => `answers after the restart\n${output()}`);
    const mails = exchange.messages.slice(from);
    const subjects = new Set(mails.map((m) => m.parsed.subject));
    const ids = mails.map((m) => m.parsed.messageId);
    let sent = 0;
    const refused: string[] = [];
    for (const answer of [...answers, ...away]) {
      assert.ok('result' in answer, `${answer.subject}: ${'failed' in answer && answer.failed.message}`);
      assert.equal(answer.status, 200);
      if (answer.result.success) {
        sent++;
        assert.ok(subjects.has(answer.subject), `${answer.subject} answered as sent, never received`);
        assert.ok(ids.includes(answer.result.messageId), `${answer.subject}: its Message-ID was received`);
      } else {
        assert.equal(answer.result.error?.code, 'EOUTBOX', `${answer.subject}: ${JSON.stringify(answer.result)}`);
        refused.push(answer.subject);
      }
    }
    for (const answer of away) assert.ok('result' in answer && !answer.result.success, `${answer.subject} accepted while Redis was away`);
    const afterAnswers = answers.slice(before.length);
    for (const answer of afterAnswers)
      assert.ok('result' in answer && answer.result.success, `${answer.subject} after the restart: ${JSON.stringify(answer)}`);
    const refusedButSent = refused.filter((s) => subjects.has(s));
    const duplicates = ids.length - new Set(ids).size;
    console.log(
      `      Redis restart: ${sent} sent, ${refused.length} EOUTBOX (${away.length} while it was away), ${refusedButSent.length} refused yet delivered, ${duplicates} duplicate(s)`,
    );
    assert.deepEqual(refusedButSent, [], 'a msg answered EOUTBOX was not accepted: its mail is not sent');
    assert.ok(sent >= 80 + 20 - refused.length && sent >= 40, `${sent} sent`);
    assert.ok(exchange.stats.peakSessions <= POOL, `peak sessions ${exchange.stats.peakSessions}`);
  });

  it(`one copy killed (SIGKILL) mid-burst: the other delivers every remaining mail and reports the killed copy's outcomes`, async function () {
    const from = exchange.messages.length;
    const red = a!;
    const subjectsA = Array.from({ length: 60 }, (_, i) => `kill-a-${i}`);
    const subjectsB = Array.from({ length: 60 }, (_, i) => `kill-b-${i}`);
    const answersA = burst(red, '/paced', 'kill-a', 60);
    const answersB = burst(b!, '/paced', 'kill-b', 60);
    await exchange.waitForMessages(from + 30);
    // Every one of the 120 accepted before the kill (in Redis, or received): each must arrive.
    for (let tries = 0; ; tries++) {
      const waiting = (await probe.keys(`smtp-outbox:${PACED}:message:*`)).map((k) => k.slice(k.lastIndexOf(':') + 1));
      const accepted = new Set([...waiting, ...exchange.messages.slice(from).map((m) => jobIdOf(m.parsed.messageId ?? ''))]);
      if (accepted.size >= 120) break;
      assert.ok(tries < 200, `only ${accepted.size} of 120 accepted`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    const exited = new Promise((resolve) => red.child.once('exit', resolve));
    red.child.kill('SIGKILL');
    await exited;
    const killedAt = Date.now();
    const atKill = exchange.messages.length;
    const ofA = since(from, 'kill-a').length;

    await within(received([...subjectsA, ...subjectsB]), 90000, () => `every mail received\n${output()}`);
    const recovered = Date.now() - killedAt;
    const answered = await within(Promise.all(answersB), 30000, () => `answers of the surviving copy\n${output()}`);
    for (const answer of answered) assert.ok('result' in answer && answer.result.success, JSON.stringify(answer));
    const answeredA = (await Promise.all(answersA)).filter((x) => 'result' in x).length;

    const mails = exchange.messages.slice(from);
    const count = new Map<string, number>();
    for (const m of mails) count.set(m.parsed.messageId!, (count.get(m.parsed.messageId!) ?? 0) + 1);
    const twice = [...count.values()].filter((n) => n > 1).length;
    // The killed copy's mails that first arrived after it died: the survivor ended them, and says so.
    const firstAfter = exchange.messages
      .slice(atKill)
      .map((m) => m.parsed.subject!)
      .filter((s) => s.startsWith('kill-a') && !exchange.messages.slice(from, atKill).some((m) => m.parsed.subject === s));
    await within(
      Promise.all(firstAfter.map((s) => b!.output.waitFor(new RegExp(`\\[send-smtp-email:[^\\]]*\\] Sent from the outbox: "${s}"`)))),
      30000,
      () => `the survivor's reports\n${output()}`,
    );
    console.log(
      `      SIGKILL: ${ofA} of the killed copy's 60 received before, ${answeredA} answered by it; the rest (${firstAfter.length}) within ${recovered} ms of the kill, ` +
        `all reported by the survivor; ${mails.length} received for 120 mails, ${twice} Message-ID(s) twice; peak ${exchange.stats.peakSessions} sessions, ${exchange.stats.refusals} × 432`,
    );
    assert.equal(new Set(mails.map((m) => m.parsed.subject)).size, 120, 'lost none');
    assert.ok(twice <= POOL, `${twice} mails sent twice: only mails in flight at the kill may be`);
    assert.ok(firstAfter.length > 0, 'some of the killed copy’s mails were left for the survivor');
    assert.ok(exchange.stats.peakSessions <= POOL, `peak sessions ${exchange.stats.peakSessions}`);
    assert.doesNotMatch(b!.output.text, /\[error\]/);
  });
});

'use strict';
// `npm run bench`: measures the targets of issue 5 and prints one table, each figure next to its
// reference measured in the same run (same process, same SMTP sink). Loopback only; every child
// process and server is closed at the end. Not part of `npm test`: it takes about three minutes.
// Sections can be picked: node --expose-gc bench/run.js throughput oauth2 graph attachment dkim rate memory startup html limits outbox multi
const { fork } = require('node:child_process');
const crypto = require('node:crypto');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const { execSync } = require('node:child_process');
const { startSink, pump, median, mb, table } = require('./common');
const { startRuntime } = require('./runtime');
const { emailNodeModule, VERSION: EMAIL_NODE_VERSION } = require('./reference');
const { rawNodemailer, nodemailerInNodeRed, sendNode, emailNode, deployWithProbes, sendNodeFlow } = require('./throughput');
// The loopback token endpoint is the tests' own, in TypeScript: tsx loads it. What is measured is
// the compiled dist/ (npm run bench builds it first), as users run it.
require('tsx/cjs');
const { startTokenEndpoint } = require('../test/support/token-endpoint');
const { startGraph } = require('../test/support/graph');
const { startRedis } = require('../test/support/redis');
const { Connection } = require('../dist/lib/connection');
const { Spool, storableMsg } = require('../dist/lib/delivery/spool');
const { composeStream } = require('../dist/lib/message/compose');
const fs = require('node:fs');
const { htmlToText } = require('../dist/lib/message/plain-text');

const ALL = ['throughput', 'oauth2', 'graph', 'attachment', 'dkim', 'rate', 'memory', 'startup', 'html', 'limits', 'outbox', 'multi'];
const picked = process.argv.slice(2).filter((a) => ALL.includes(a));
const sections = picked.length ? picked : ALL;
const rows = [];
const row = (measure, result, reference, verdict) => {
  rows.push([measure, result, reference, verdict]);
  console.error(`  ${measure}: ${result} | ${reference} | ${verdict}`);
};
const ok = (pass, text) => `${pass ? '✅' : '❌'} ${text}`;
const rate = (n, ms) => (n / ms) * 1000;

async function throughput(rt, sink) {
  const o = { total: 2000, inFlight: 10, pool: 5 };
  // Warm-up of every path (JIT, module loading), not counted.
  await rawNodemailer(sink, { ...o, total: 500 });
  await sendNode(rt, sink, { ...o, total: 500 });
  await nodemailerInNodeRed(rt, sink, { ...o, total: 500 });
  // Rounds of the three, the order rotating; the ratio is the median of the rounds' ratios, so
  // that a slow moment of the machine weighs on both sides of a ratio.
  const runs = { raw: () => rawNodemailer(sink, o), node: () => sendNode(rt, sink, o), floor: () => nodemailerInNodeRed(rt, sink, o) };
  const order = ['raw', 'node', 'floor'];
  const got = { raw: [], node: [], floor: [] };
  const ratios = [];
  const floorRatios = [];
  for (let round = 0; round < 7; round++) {
    const now = {};
    for (let k = 0; k < 3; k++) {
      const which = order[(round + k) % 3];
      now[which] = rate(o.total, await runs[which]());
      got[which].push(now[which]);
    }
    ratios.push(now.node / now.raw);
    floorRatios.push(now.floor / now.raw);
  }
  const raw = got.raw;
  const node = got.node;
  await sink.reset();
  const email = rate(o.total, await emailNode(rt, sink, o));
  const s = await sink.stats();
  if (s.messages !== o.total) throw new Error(`the sink received ${s.messages} of ${o.total} mails from node-red-node-email`);
  const r = median(raw);
  const n = median(node);
  const ratio = median(ratios);
  const spread = `rounds ${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}`;
  row(
    'Throughput, send node in Node-RED (2000 small mails, 10 in flight, pool 5; median of 7 rounds)',
    `${n.toFixed(0)} msg/s`,
    `raw nodemailer pool 5: ${r.toFixed(0)} msg/s`,
    ok(ratio >= 0.95, `${ratio.toFixed(2)}× (${spread}; target ≥ 0.95×)`),
  );
  row(
    '  … the floor: raw nodemailer called from a minimal node in the same Node-RED',
    `${median(got.floor).toFixed(0)} msg/s`,
    'Node-RED routing, done() and a node around the same transport',
    `${median(floorRatios).toFixed(2)}× raw; send node = ${(median(ratios) / median(floorRatios)).toFixed(2)}× this floor`,
  );
  row(
    `Throughput vs node-red-node-email ${EMAIL_NODE_VERSION} (2000 mails, 10 in flight)`,
    `${n.toFixed(0)} msg/s`,
    `e-mail node: ${email.toFixed(0)} msg/s (a connection per mail)`,
    ok(n / email >= 10, `${(n / email).toFixed(1)}× (target ≥ 10×)`),
  );
}

async function oauth2(rt, sink) {
  const endpoint = await startTokenEndpoint({ expiresIn: 3600 });
  try {
    // 1. In Node-RED: 500 sends, all at once, over a pool of 5.
    await sink.reset();
    const driver = await deployWithProbes(
      rt,
      sendNodeFlow(sink, {
        connection: {
          authType: 'oauth2-client-credentials',
          tokenUrl: endpoint.url,
          scope: 'https://outlook.office365.com/.default',
          maxConnections: '5',
        },
        credentials: { user: 'bench@example.com', clientId: endpoint.clientId, clientSecret: endpoint.clientSecret },
      }),
      { input: 'send', caughtScope: ['send'] },
    );
    await pump(500, 500, () => driver.send({ payload: {} }));
    const s = await sink.stats();
    const logins = Object.values(s.auths).reduce((a, b) => a + b, 0);
    const requests = endpoint.state.requests.length;
    row(
      'OAuth2: token requests for 500 sends over 5 pooled connections (in Node-RED)',
      `${requests} request, ${s.messages} mails, ${logins} XOAUTH2 logins on ${s.connections} connections`,
      'target: exactly 1',
      ok(requests === 1 && s.messages === 500, `${requests}`),
    );

    // 2. The connection alone with a clock we move: renewal before expiry.
    const before = endpoint.state.requests.length;
    let clock = Date.now();
    const conn = new Connection(
      {
        host: '127.0.0.1',
        port: sink.port,
        security: 'none',
        authType: 'oauth2-client-credentials',
        tokenUrl: endpoint.url,
        scope: 'https://outlook.office365.com/.default',
        maxConnections: 5,
      },
      { user: 'bench@example.com', clientId: endpoint.clientId, clientSecret: endpoint.clientSecret },
      { now: () => clock },
    );
    // Count the provision calls that found a request under way and waited for it.
    const tokens = conn.tokens;
    const get = tokens.get.bind(tokens);
    const calls = { cached: 0, fetched: 0, waited: 0 };
    tokens.get = () => {
      const fresh = tokens.token && tokens.token.renewAt > clock;
      calls[fresh ? 'cached' : tokens.pending ? 'waited' : 'fetched']++;
      return get();
    };
    const message = () => ({ from: 'bench@example.com', to: 'to@example.com', subject: 'renewal', text: 'x' });
    await pump(500, 500, () => conn.send(message()));
    const first = { ...calls };
    const renewAt = tokens.token.renewAt;
    const expiresAt = clock + 3600 * 1000;
    clock = renewAt + 1000; // past the renewal time, still 5 minutes before expiry
    for (const k of Object.keys(calls)) calls[k] = 0;
    // Pooled connections ask for a token when they log in: close the pool's idle ones so that
    // the next sends log in again, all at the same moment.
    conn.transport.close();
    await pump(500, 500, () => conn.send(message()));
    await conn.close();
    const renewals = endpoint.state.requests.length - before - 1;
    row(
      'OAuth2: renewal before expiry (clock moved past renewAt, 5 min before expiry)',
      `+${renewals} request; ${calls.waited} of ${calls.waited + calls.fetched} concurrent logins waited for it`,
      `first 500: ${first.fetched} request, ${first.waited} waited, ${first.cached} from cache; renewAt = expiry − ${((expiresAt - renewAt) / 60000).toFixed(0)} min`,
      ok(renewals === 1 && calls.fetched === 1 && calls.waited > 0, 'exactly 1 more, concurrent sends wait for it'),
    );
  } finally {
    await endpoint.close();
  }
}

/**
 * Microsoft Graph against the loopback Graph server (test/support/graph.ts, in this process). The
 * transport's one attempt per mail, with one prebuilt MIME message, vs a plain axios loop posting
 * that MIME base64 with one token and the same 4 requests at once: what any client of Graph's
 * sendMail does at least. Then the whole connection (queue, token cache, the MIME built per mail)
 * vs an axios loop that builds each mail with nodemailer's MailComposer first.
 */
async function graph() {
  const axios = require('axios');
  const MailComposer = require('nodemailer/lib/mail-composer');
  const { GraphTransport } = require('../dist/lib/transports/graph');
  const { clientCredentialTokens } = require('../dist/lib/auth/client-credentials');
  const endpoint = await startTokenEndpoint({ expiresIn: 3600 });
  const server = await startGraph({ tokens: () => endpoint.state.issued });
  const user = 'bench@example.com';
  const config = { transport: 'graph', authType: 'oauth2-client-credentials', tokenUrl: endpoint.url, graphUrl: server.url };
  const creds = { user, clientId: endpoint.clientId, clientSecret: endpoint.clientSecret };
  const message = (i) => ({ from: user, to: 'to@example.com', subject: `graph ${i}`, text: 'x'.repeat(200) });
  const TOTAL = 2000;
  const AT_ONCE = 4;
  try {
    const tokens = clientCredentialTokens(config, creds, {});
    const transport = new GraphTransport(config, creds, { tokens });
    const conn = new Connection(config, creds);
    const raw = await new MailComposer(message(0)).compile().build();
    const outgoing = { envelope: { from: user, to: ['to@example.com'] }, messageId: '<bench@example.com>', open: () => raw };
    const signal = new AbortController().signal;
    const url = `${server.url}/v1.0/users/${encodeURIComponent(user)}/sendMail`;
    const headers = { Authorization: `Bearer ${(await tokens.get()).accessToken}`, 'Content-Type': 'text/plain' };
    const runs = {
      transport: (n) => pump(n, AT_ONCE, () => transport.send(outgoing, signal)),
      plain: (n) => pump(n, AT_ONCE, () => axios.post(url, raw.toString('base64'), { headers })),
      // Every mail handed over at once: the queue and the transport keep 4 requests under way.
      connection: (n) => pump(n, n, (i) => conn.send(message(i))),
      composing: (n) =>
        pump(n, AT_ONCE, async (i) =>
          axios.post(url, (await new MailComposer(message(i)).compile().build()).toString('base64'), { headers }),
        ),
    };
    for (const run of Object.values(runs)) await run(300);
    const order = Object.keys(runs);
    const got = Object.fromEntries(order.map((k) => [k, []]));
    const ratios = { transport: [], connection: [] };
    for (let round = 0; round < 7; round++) {
      const now = {};
      for (let k = 0; k < order.length; k++) {
        const which = order[(round + k) % order.length];
        now[which] = rate(TOTAL, await runs[which](TOTAL));
        got[which].push(now[which]);
      }
      ratios.transport.push(now.transport / now.plain);
      ratios.connection.push(now.connection / now.composing);
    }
    await conn.close();
    const sent = server.state.sent.length;
    const expected = 4 * 300 + 4 * 7 * TOTAL;
    if (sent !== expected) throw new Error(`the Graph server recorded ${sent} of ${expected} mails`);
    const spread = (r) => `rounds ${Math.min(...r).toFixed(2)}–${Math.max(...r).toFixed(2)}`;
    row(
      `Graph transport: one attempt per mail, the same MIME (${TOTAL} small mails, 4 at once; median of 7 rounds)`,
      `${median(got.transport).toFixed(0)} msg/s; ${endpoint.state.requests.length} token requests in all (one per token cache)`,
      `plain axios loop posting that MIME: ${median(got.plain).toFixed(0)} msg/s`,
      ok(median(ratios.transport) >= 0.9, `${median(ratios.transport).toFixed(2)}× (${spread(ratios.transport)}; target ≥ 0.9×)`),
    );
    row(
      '  … the whole connection over Graph: queue, token cache, each MIME built from the msg',
      `${median(got.connection).toFixed(0)} msg/s`,
      `axios loop building each MIME with nodemailer's MailComposer: ${median(got.composing).toFixed(0)} msg/s`,
      `${median(ratios.connection).toFixed(2)}× (${spread(ratios.connection)})`,
    );
  } finally {
    await server.close();
    await endpoint.close();
  }
}

/** An http server of a 50 MB file (/big.bin), a 1 KB one (/small.bin) and one of n MB (/mb-n.bin) on loopback; resolves with { base, close }. */
async function fileServer() {
  const SIZE = 50 * 1024 * 1024;
  const chunk = Buffer.alloc(64 * 1024, 'benchmark-attachment-');
  const server = http.createServer((req, res) => {
    const mbs = /^\/mb-(\d+)\.bin$/.exec(req.url || '');
    const size = req.url === '/small.bin' ? 1024 : mbs ? Number(mbs[1]) * 1024 * 1024 : SIZE;
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': size });
    let left = size;
    const write = () => {
      while (left > 0) {
        const part = left >= chunk.length ? chunk : chunk.subarray(0, left);
        left -= part.length;
        if (!res.write(part)) return res.once('drain', write);
      }
      res.end();
    };
    write();
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { base: `http://127.0.0.1:${server.address().port}`, close: () => server.close() };
}

/** Peak RSS growth of a child process sending one 50 MB attachment (see attachment-child.js); `file` another one, `dkimKeyFile` a key to sign with. */
function attachmentChild(sink, base, mode, outbox, { file = 'big.bin', dkimKeyFile = '' } = {}) {
  return new Promise((resolve, reject) => {
    const child = fork(
      path.join(__dirname, 'attachment-child.js'),
      [mode, String(sink.port), `${base}/${file}`, `${base}/small.bin`, outbox, dkimKeyFile],
      { execArgv: ['--expose-gc'] },
    );
    let result;
    child.on('message', (m) => (result = m));
    child.on('exit', () =>
      result && !result.error
        ? resolve(result)
        : reject(new Error(`attachment child (${mode}, ${outbox}): ${result ? result.error : 'no result'}`)),
    );
  });
}

async function attachment(sink) {
  const files = await fileServer();
  try {
    const results = {};
    // The connection's defaults (outbox on disk); the outbox section compares it with memory.
    for (const mode of ['url', 'data', 'base64']) results[mode] = await attachmentChild(sink, files.base, mode, 'disk');
    const u = results.url.growth;
    row(
      '50 MB attachment from an http URL, streamed (peak RSS growth of a child process)',
      `+${mb(u)} MB in ${(results.url.ms / 1000).toFixed(1)} s`,
      `data: URL +${mb(results.data.growth)} MB; base64 +${mb(results.base64.growth)} MB (both include the 67 MB string in the msg)`,
      ok(u < 30 * 1024 * 1024, 'target < 30 MB'),
    );
  } finally {
    files.close();
  }
}

/**
 * A 20 MB mail (its attachment streamed from an http URL) through the outbox on disk, DKIM-signed
 * and unsigned, each in a child process of its own: the peak RSS growth of both, and their ratio.
 * A signature covers the whole body and goes before it, so the signer must hold the body until its
 * hash is known: in memory that would be the mail once more; it waits in the outbox folder instead.
 */
async function dkim(sink) {
  const files = await fileServer();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-dkim-'));
  try {
    const keyFile = path.join(dir, 'dkim.pem');
    const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
    fs.writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    const unsigned = await attachmentChild(sink, files.base, 'url', 'disk', { file: 'mb-20.bin' });
    const signed = await attachmentChild(sink, files.base, 'url', 'disk', { file: 'mb-20.bin', dkimKeyFile: keyFile });
    const extra = signed.growth - unsigned.growth;
    row(
      'DKIM: 20 MB mail signed (RSA 2048) through the outbox on disk (peak RSS growth of a child process)',
      `+${mb(signed.growth)} MB in ${(signed.ms / 1000).toFixed(1)} s`,
      `unsigned +${mb(unsigned.growth)} MB in ${(unsigned.ms / 1000).toFixed(1)} s`,
      ok(extra < 10 * 1024 * 1024, `${(signed.growth / Math.max(unsigned.growth, 1)).toFixed(2)}×; target: signing adds < 10 MB`),
    );
  } finally {
    files.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function rateLimit(rt, sink) {
  await sink.reset();
  const driver = await deployWithProbes(rt, sendNodeFlow(sink, { connection: { rateLimitPerMinute: '120' } }), {
    input: 'send',
    caughtScope: ['send'],
  });
  // Record the status texts the node shows.
  const node = driver.node;
  const status = node.status.bind(node);
  let maxQueued = 0;
  node.status = (s) => {
    const m = /queued \((\d+)\)/.exec((s && s.text) || '');
    if (m) maxQueued = Math.max(maxQueued, Number(m[1]));
    return status(s);
  };
  const ms = await pump(60, 60, () => driver.send({ payload: {} }));
  const s = await sink.stats();
  const within = Math.abs(ms - 30000) <= 3000;
  row(
    'Rate limit 120/min: 60 messages injected at once (real minute, not shortened)',
    `${(ms / 1000).toFixed(1)} s, ${s.messages} of 60 delivered`,
    `status showed up to "queued (${maxQueued})"`,
    ok(within && s.messages === 60 && maxQueued >= 58, 'target 30 s ± 10 %, none dropped'),
  );
}

async function memory(rt, sink) {
  const gc = global.gc || (() => {});
  const driver = await deployWithProbes(rt, sendNodeFlow(sink), { input: 'send', caughtScope: ['send'] });
  const samples = [];
  for (let i = 0; i < 10; i++) {
    await pump(2000, 10, () => driver.send({ payload: { n: i } }));
    gc();
    gc();
    samples.push(process.memoryUsage().heapUsed);
  }
  // Least-squares slope over the last nine samples (the first one includes warm-up).
  const ys = samples.slice(1);
  const xs = ys.map((_, i) => (i + 1) * 2000);
  const mx = xs.reduce((a, b) => a + b) / xs.length;
  const my = ys.reduce((a, b) => a + b) / ys.length;
  const slope = xs.reduce((a, x, i) => a + (x - mx) * (ys[i] - my), 0) / xs.reduce((a, x) => a + (x - mx) ** 2, 0);
  const growth = ys[ys.length - 1] - ys[0];
  row(
    'Memory over 20 000 messages (heap after GC, every 2000)',
    `${mb(samples[1])} → ${mb(samples[9])} MB (${growth >= 0 ? '+' : ''}${(growth / 1024).toFixed(0)} KB), slope ${slope.toFixed(1)} B/msg`,
    `RSS ${mb(process.memoryUsage.rss())} MB at the end`,
    ok(Math.abs(slope) < 20, 'flat (slope within ±20 B/msg)'),
  );
}

async function limits(rt) {
  // An Exchange-shaped sink: 3 sessions per mailbox, the 4th AUTH answered 432 4.3.2.
  const exchange = await startSink(path.join(__dirname, 'exchange-sink.js'));
  const endpoint = await startTokenEndpoint({ expiresIn: 3600 });
  const connection = { authType: 'oauth2-client-credentials', tokenUrl: endpoint.url, scope: 'https://outlook.office365.com/.default' };
  const credentials = { user: 'bench@contoso.example', clientId: endpoint.clientId, clientSecret: endpoint.clientSecret };
  const TOTAL = 300;
  const ROUNDS = 9;
  try {
    // One burst: a fresh deploy (a new pool that knows nothing of the limit), all 300 at once.
    const burst = async (maxConnections) => {
      // Replace the previous deploy first: its pool keeps its sessions open until it is closed.
      await rt.deploy([{ id: 'tab', type: 'tab', label: 'bench' }]);
      await exchange.call({ cmd: 'idle' }); // the previous deploy's sessions have ended
      await exchange.reset();
      const before = endpoint.state.requests.length;
      const driver = await deployWithProbes(rt, sendNodeFlow(exchange, { connection: { ...connection, maxConnections }, credentials }), {
        input: 'send',
        caughtScope: ['send'],
      });
      const attempts = [];
      const ms = await pump(TOTAL, TOTAL, () => driver.send({ payload: {} }).then((msg) => attempts.push(msg.emailResult.attempts)));
      const s = await exchange.stats();
      return { ms, ...s, attempts: attempts.reduce((a, b) => a + b, 0), tokens: endpoint.state.requests.length - before };
    };
    await burst('3'); // warm-up
    const rounds = { defaults: [], ideal: [] };
    const ratios = [];
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 ? ['ideal', 'defaults'] : ['defaults', 'ideal'];
      const now = {};
      // Defaults: the editor's pool of 5; the ideal: 3 connections that are never refused.
      for (const which of order) rounds[which].push((now[which] = await burst(which === 'ideal' ? '3' : '5')));
      ratios.push(now.ideal.ms / now.defaults.ms);
    }
    const d = rounds.defaults;
    const delivered = Math.min(...d.map((r) => r.messages));
    const peak = Math.max(...d.map((r) => r.peakSessions));
    const refusedIdeal = Math.max(...rounds.ideal.map((r) => r.refusals));
    const ratio = median(ratios);
    const per = (key) => `${Math.min(...d.map((r) => r[key]))}–${Math.max(...d.map((r) => r[key]))}`;
    row(
      `Limits: burst of ${TOTAL} small mails, Exchange-shaped server (3 sessions per mailbox, 432 beyond), connection defaults (pool 5, OAuth2; median of ${ROUNDS} rounds)`,
      `${delivered}/${TOTAL} delivered, peak ${peak} sessions, ${per('refusals')} × 432, ${per('attempts')} attempts, ${per('tokens')} token request; ${rate(TOTAL, median(d.map((r) => r.ms))).toFixed(0)} msg/s`,
      `ideal: 3 connections never refused (${refusedIdeal} × 432): ${rate(TOTAL, median(rounds.ideal.map((r) => r.ms))).toFixed(0)} msg/s`,
      ok(
        delivered === TOTAL && peak <= 3 && refusedIdeal === 0 && ratio >= 0.8,
        `${ratio.toFixed(2)}× ideal (rounds ${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}; target ≥ 0.8×, 300/300, ≤ 3 sessions)`,
      ),
    );
  } finally {
    await endpoint.close();
    await exchange.close();
  }
}

async function outbox(rt, sink) {
  // 1. Throughput, outbox on disk (the default) vs in memory, rounds alternating; the ratio is the
  // median of the rounds' ratios. A mail that can go at once is written only if it has to wait.
  const o = { total: 2000, inFlight: 10, pool: 5 };
  const disk = (opts) => sendNode(rt, sink, opts);
  const memory = (opts) => sendNode(rt, sink, { ...opts, flow: { connection: { outbox: 'memory' } } });
  await disk({ ...o, total: 300 });
  await memory({ ...o, total: 300 });
  const got = { disk: [], memory: [] };
  const ratios = [];
  for (let round = 0; round < 7; round++) {
    const now = {};
    for (const which of round % 2 ? ['memory', 'disk'] : ['disk', 'memory'])
      got[which].push((now[which] = rate(o.total, await (which === 'disk' ? disk : memory)(o))));
    ratios.push(now.disk / now.memory);
  }
  const ratio = median(ratios);
  row(
    'Outbox: throughput with outbox on disk (2000 small mails, 10 in flight, pool 5; median of 7 rounds)',
    `${median(got.disk).toFixed(0)} msg/s`,
    `outbox in memory: ${median(got.memory).toFixed(0)} msg/s`,
    ok(ratio >= 0.8, `${ratio.toFixed(2)}× (rounds ${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}; target ≥ 0.8×)`),
  );
  // The same mails when every one of them is written: a burst of 2000 at once (all but a pool's worth wait).
  const burst = { total: 2000, inFlight: 2000, pool: 5 };
  const b = { disk: [], memory: [] };
  const burstRatios = [];
  for (let round = 0; round < 3; round++) {
    b.disk.push(rate(burst.total, await disk(burst)));
    b.memory.push(rate(burst.total, await memory(burst)));
    burstRatios.push(b.disk[round] / b.memory[round]);
  }
  row(
    '  … a burst of 2000 at once: all but a pool’s worth wait, and are written to the outbox (median of 3)',
    `${median(b.disk).toFixed(0)} msg/s`,
    `outbox in memory: ${median(b.memory).toFixed(0)} msg/s`,
    ok(
      median(b.disk) / median(b.memory) >= 0.8,
      `${(median(b.disk) / median(b.memory)).toFixed(2)}× (rounds ${Math.min(...burstRatios).toFixed(2)}–${Math.max(...burstRatios).toFixed(2)}; target ≥ 0.8×)`,
    ),
  );

  // 2. A 50 MB attachment from a URL through the outbox on disk: downloaded into the outbox, sent from there.
  const files = await fileServer();
  try {
    const viaDisk = await attachmentChild(sink, files.base, 'url', 'disk');
    const viaMemory = await attachmentChild(sink, files.base, 'url', 'memory');
    row(
      'Outbox: 50 MB attachment from an http URL through the outbox on disk (peak RSS growth of a child process)',
      `+${mb(viaDisk.growth)} MB in ${(viaDisk.ms / 1000).toFixed(1)} s; +${mb(viaDisk.retained)} MB after a full GC`,
      `outbox in memory (streamed to the server once): +${mb(viaMemory.growth)} MB in ${(viaMemory.ms / 1000).toFixed(1)} s; +${mb(viaMemory.retained)} MB after a full GC`,
      ok(viaDisk.growth < 30 * 1024 * 1024, 'target < 30 MB'),
    );
  } finally {
    files.close();
  }

  // 3. Resume: 1,000 mails left in a connection's outbox (written by the outbox's own code), sent
  // when the connection starts, as after a restart.
  const COUNT = 1000;
  const dir = path.join(rt.userDir, 'smtp-outbox', 'conn');
  fs.rmSync(dir, { recursive: true, force: true });
  const { spool } = await Spool.open(dir, { maxBytes: 1e10, maxCount: 1e6 });
  for (let i = 0; i < COUNT; i++) {
    const built = await composeStream({
      from: 'bench@example.com',
      to: 'to@example.com',
      subject: `resumed ${i}`,
      html: '<p>Hi</p>',
      text: 'Hi',
    });
    await spool.add(
      {
        messageId: built.messageId,
        envelope: built.envelope,
        summary: { to: 'to@example.com', subject: `resumed ${i}` },
        attempts: 0,
        node: 'send',
        msg: storableMsg({ _msgid: `r${i}`, payload: {} }),
      },
      built.message,
    );
  }
  await sink.reset();
  let reported = 0;
  let allSent;
  const done = new Promise((resolve) => (allSent = resolve));
  const t0 = performance.now();
  // The send node reports each resumed mail's outcome (its msg is gone); count them as they come.
  const deployed = rt.deploy([{ id: 'tab', type: 'tab', label: 'bench' }, ...sendNodeFlow(sink)]).then(() => {
    const node = rt.node('send');
    const report = node.reportOutcome;
    node.reportOutcome = function (...args) {
      if (!('info' in args[1])) throw new Error(`a resumed mail failed: ${args[1].error.message}`);
      if (++reported === COUNT) allSent();
      return report.apply(this, args);
    };
  });
  await deployed;
  const started = performance.now() - t0;
  await done;
  const ms = performance.now() - t0;
  const s = await sink.stats();
  const left = fs.readdirSync(dir).length;
  row(
    `Outbox: resume ${COUNT} mails left in the outbox (deploy of the connection to the last one sent; pool 5)`,
    `${(ms / 1000).toFixed(2)} s (${rate(COUNT, ms).toFixed(0)} msg/s), ${s.messages} delivered, ${left} files left`,
    `deploy until flows started (opening the outbox): ${started.toFixed(0)} ms`,
    ok(s.messages === COUNT && left === 0, 'all sent, outbox empty'),
  );
}

/**
 * Several instances: two Connections with the shared outbox on Redis (the same name, as two
 * Node-RED copies of the same flows: one queue, SMTP sessions under leases, any instance sends any
 * mail), in this process against the Exchange-shaped sink (3 sessions per mailbox, 432 beyond) and a
 * redis-server of the bench's own; 300 mails at once, half into each. The ideal: the same sink
 * driven by one Connection with a pool of 3 and its mails in memory, never refused. Fresh
 * Connections each round (a new queue name for the shared ones), rounds alternating.
 */
async function multi() {
  const exchange = await startSink(path.join(__dirname, 'exchange-sink.js'));
  const endpoint = await startTokenEndpoint({ expiresIn: 3600 });
  const redis = await startRedis();
  const user = 'bench@contoso.example';
  const config = {
    host: '127.0.0.1',
    port: exchange.port,
    security: 'none',
    authType: 'oauth2-client-credentials',
    tokenUrl: endpoint.url,
    scope: 'https://outlook.office365.com/.default',
    maxConnections: 3,
    rateLimitPerMinute: 0,
  };
  const creds = { user, clientId: endpoint.clientId, clientSecret: endpoint.clientSecret };
  const message = (i) => ({ from: user, to: 'to@example.com', subject: `multi ${i}`, html: '<p>Hi</p>', text: 'Hi' });
  const TOTAL = 300;
  const ROUNDS = 7;
  let queues = 0;
  const problems = [];
  /** One burst: fresh Connections, all TOTAL mails at once, spread over them; ms, the sink's stats, and the attempts. */
  const burst = async (which) => {
    await exchange.call({ cmd: 'idle' }); // the previous round's sessions have ended
    await exchange.reset();
    const name = `bench-multi-${process.pid}-${++queues}`;
    const conns =
      which === 'ideal'
        ? [new Connection({ ...config, outbox: 'memory' }, creds)]
        : [0, 1].map(
            () =>
              new Connection({ ...config, outbox: 'redis' }, creds, {
                shared: { name, url: redis.url, maxBytes: 100 * 1024 * 1024 },
                onError: (e) => problems.push(e.message),
              }),
          );
    for (const c of conns) if (c.shared) c.shared.resume(); // as the config node does once the flows run
    // Running copies: connected to Redis, token fetched, workers started (one mail each, not counted), as the ideal's pool is.
    await Promise.all(conns.map((c, i) => c.send(message(`warm-up ${i}`))));
    await exchange.reset();
    let attempts = 0;
    try {
      const ms = await pump(TOTAL, TOTAL, (i) =>
        conns[i % conns.length].send(message(i)).then((info) => {
          if (!info.messageId) throw new Error(`mail ${i} was handed over`);
          attempts += info.attempts;
        }),
      );
      return { ms, attempts, ...(await exchange.stats()) };
    } finally {
      await Promise.all(conns.map((c) => c.close(1000)));
    }
  };
  try {
    await burst('ideal'); // warm-up of both paths, not counted
    await burst('multi');
    const rounds = { multi: [], ideal: [] };
    const ratios = [];
    for (let round = 0; round < ROUNDS; round++) {
      const now = {};
      for (const which of round % 2 ? ['ideal', 'multi'] : ['multi', 'ideal']) rounds[which].push((now[which] = await burst(which)));
      ratios.push(now.ideal.ms / now.multi.ms);
    }
    const m = rounds.multi;
    const delivered = Math.min(...m.map((r) => r.messages));
    const peak = Math.max(...m.map((r) => r.peakSessions));
    const refused = Math.max(...m.map((r) => r.refusals));
    const refusedIdeal = Math.max(...rounds.ideal.map((r) => r.refusals));
    const ratio = median(ratios);
    const per = (key) => `${Math.min(...m.map((r) => r[key]))}–${Math.max(...m.map((r) => r[key]))}`;
    row(
      `Several instances: burst of ${TOTAL} small mails from two Connections sharing one outbox on Redis, Exchange-shaped server (3 sessions per mailbox, 432 beyond; pool 3, OAuth2; median of ${ROUNDS} rounds)`,
      `${delivered}/${TOTAL} delivered, peak ${peak} sessions, ${refused} × 432, ${per('attempts')} attempts, ${per('logins')} logins; ${rate(TOTAL, median(m.map((r) => r.ms))).toFixed(0)} msg/s`,
      `ideal: one Connection, pool 3, outbox in memory, never refused (${refusedIdeal} × 432): ${rate(TOTAL, median(rounds.ideal.map((r) => r.ms))).toFixed(0)} msg/s`,
      ok(
        delivered === TOTAL && peak <= 3 && refused === 0 && ratio >= 0.8,
        `${ratio.toFixed(2)}× ideal (rounds ${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}; target ≥ 0.8×, 300/300, ≤ 3 sessions)`,
      ),
    );
    if (problems.length) console.error(`  multi: the connections said ${[...new Set(problems)].join(' | ')}`);
    // The ceiling the queue sets: BullMQ alone on the same Redis, two workers of 3 under a global
    // concurrency of 3, jobs that do nothing; every shared mail pays these round trips besides its SMTP exchange.
    const bullRates = [];
    for (let round = 0; round < 3; round++) bullRates.push(await bullmqAlone(redis.url, TOTAL));
    row(
      `… BullMQ alone: ${TOTAL} jobs that do nothing, two workers of 3, global concurrency 3 (median of 3)`,
      `${median(bullRates).toFixed(0)} jobs/s`,
      '',
      'the ceiling of any mail through the shared outbox',
    );
  } finally {
    await redis.close();
    await endpoint.close();
    await exchange.close();
  }
}

/** Jobs per second through BullMQ alone: `total` no-op jobs added at once, drained by two workers of 3 under a global concurrency of 3. */
async function bullmqAlone(url, total) {
  const { Queue, Worker } = require('bullmq');
  const { port } = new URL(url);
  const connection = { host: '127.0.0.1', port: Number(port), maxRetriesPerRequest: null };
  const name = `bench-bullmq-${process.pid}-${Date.now()}`;
  const queue = new Queue(name, { connection });
  await queue.setGlobalConcurrency(3);
  let done = 0;
  let finished;
  const all = new Promise((resolve) => (finished = resolve));
  const workers = [0, 1].map(() => new Worker(name, async () => ++done === total && finished(), { connection, concurrency: 3 }));
  await Promise.all(workers.map((w) => w.waitUntilReady()));
  const started = Date.now();
  await Promise.all(Array.from({ length: total }, (_, i) => queue.add('job', { i }, { jobId: `j${i}`, removeOnComplete: true })));
  await all;
  const ms = Date.now() - started;
  await Promise.all(workers.map((w) => w.close()));
  await queue.obliterate({ force: true });
  await queue.close();
  return rate(total, ms);
}

async function startup() {
  const once = (mode) =>
    new Promise((resolve, reject) => {
      const child = fork(path.join(__dirname, 'startup-child.js'), [mode]);
      let result;
      child.on('message', (m) => (result = m));
      child.on('exit', () => (result ? resolve(result) : reject(new Error('start-up child failed'))));
    });
  const withPkg = [];
  const without = [];
  await once('with'); // warm the file system cache
  for (let i = 0; i < 11; i++) {
    without.push(await once('without'));
    const w = await once('with');
    if (!w.loaded || w.sockets) throw new Error(`start-up: package loaded ${w.loaded}, sockets open ${w.sockets}`);
    withPkg.push(w);
  }
  const m = (xs, key) => median(xs.map((x) => x[key]));
  const d = m(withPkg, 'ms') - m(without, 'ms');
  const dc = m(withPkg, 'cpuMs') - m(without, 'cpuMs');
  row(
    'Start-up: Node-RED start to flows started, with the package and a flow using it (median of 11)',
    `${m(withPkg, 'ms').toFixed(0)} ms; no socket, no token at start`,
    `without the package: ${m(without, 'ms').toFixed(0)} ms`,
    ok(d < 50, `+${d.toFixed(0)} ms wall, +${dc.toFixed(0)} ms CPU (target < 50 ms)`),
  );
}

function html() {
  const SIZE = 200 * 1024;
  const fill = (unit) => unit.repeat(Math.ceil(SIZE / unit.length)).slice(0, SIZE);
  // A mail with the usual parts: head, style, comments, headings, links, lists, a table, entities.
  const head =
    '<!DOCTYPE html><html><head><meta charset="utf-8"><title>Order</title><style>p { margin: 0 } a { color: #06c }</style></head><body>\n';
  const body = [
    '<!-- order --><h2>Order #1234</h2>\n<p>Shipped, see <a href="https://shop.example/o/1234?a=1&amp;b=2">tracking</a>.<br>',
    'Questions: <a href="mailto:help@shop.example">help@shop.example</a></p>\n<ul><li>Item&nbsp;one, 2 &times; &#8364;&nbsp;9.90</li>',
    '<li>Item <b>two</b></li></ul>\n<table><tr><td>Total</td><td>&#x20AC; 19.80</td></tr></table>\n',
  ].join('');
  const tail = '<script>track()</script></body></html>';
  const ordinary = head + body.repeat(Math.floor((SIZE - head.length - tail.length) / body.length)) + tail;
  const depth = Math.floor(SIZE / 25);
  const hostile = {
    '<': fill('<'),
    '<script': fill('<script'),
    '<script>': fill('<script>'),
    '<a href="': fill('<a href="'),
    '<a href="x">y': fill('<a href="x">y'),
    '<a href="x">y</a>': fill('<a href="x">y</a>'),
    '<li>': fill('<li>'),
    '<!--': fill('<!--'),
    '<head>': fill('<head>'),
    '&#': fill('&#'),
    'nested tags': '<div><b><i>'.repeat(depth) + 'x' + '</i></b></div>'.repeat(depth),
  };
  // The conversion is synchronous: its duration is the time the event loop is blocked.
  const block = (fn) => {
    const t = process.hrtime.bigint();
    fn();
    return Number(process.hrtime.bigint() - t) / 1e6;
  };
  const rounds = 5;
  const times = (fn) => Array.from({ length: rounds }, () => block(fn));
  // Not counted: a Node-RED that sends mail has run the conversion before.
  block(() => htmlToText(ordinary));
  let longest = { ms: 0 };
  let worstCall = 0;
  for (const [name, input] of Object.entries(hostile)) {
    const t = times(() => htmlToText(input));
    worstCall = Math.max(worstCall, ...t);
    if (median(t) > longest.ms) longest = { ms: median(t), name: name.includes('<') || name.includes('&') ? `\`${name}\`` : name };
  }
  const reference = median(times(() => htmlToText(ordinary)));
  const records = [];
  for (let size = 2; size < SIZE; size += records[records.length - 1].length + 1) {
    records.push(JSON.stringify({ id: records.length, name: `item ${records.length}`, tags: ['mail', 'html'] }));
  }
  const json = `[${records.join(',')}]`;
  const jsonMs = median(times(() => JSON.parse(json)));
  row(
    'HTML to text, 200 KB hostile input: longest event-loop block',
    `${longest.ms.toFixed(1)} ms (${longest.name}; median of ${rounds} calls, worst of ${Object.keys(hostile).length} inputs; single worst call ${worstCall.toFixed(1)} ms)`,
    `200 KB of ordinary HTML: ${reference.toFixed(1)} ms; JSON.parse of 200 KB: ${jsonMs.toFixed(1)} ms`,
    ok(longest.ms < 50, `target < 50 ms; ${(longest.ms / reference).toFixed(1)}× ordinary HTML`),
  );
}

(async () => {
  const started = Date.now();
  const sink = await startSink();
  let rt;
  try {
    rt = await startRuntime({}, { emailNode: sections.includes('throughput') ? emailNodeModule() : undefined });
    if (sections.includes('throughput')) await throughput(rt, sink);
    if (sections.includes('oauth2')) await oauth2(rt, sink);
    if (sections.includes('graph')) await graph();
    if (sections.includes('attachment')) await attachment(sink);
    if (sections.includes('dkim')) await dkim(sink);
    if (sections.includes('rate')) await rateLimit(rt, sink);
    if (sections.includes('memory')) await memory(rt, sink);
    if (sections.includes('limits')) await limits(rt);
    if (sections.includes('outbox')) await outbox(rt, sink);
    if (sections.includes('multi')) await multi();
    await rt.stop();
    rt = undefined;
    if (sections.includes('startup')) await startup();
    if (sections.includes('html')) html();
  } finally {
    if (rt) await rt.stop().catch(() => {});
    await sink.close();
  }
  const cpu = os.cpus()[0];
  let mem;
  try {
    mem = execSync('free -h', { encoding: 'utf8' }).split('\n')[1].trim().split(/\s+/)[1];
  } catch {
    mem = mb(os.totalmem()) + ' MB';
  }
  console.log(
    `\nMachine: ${os.cpus().length} CPUs (nproc ${os.availableParallelism()}) ${cpu ? cpu.model : ''}, ${mem} RAM, Node ${process.version}, ${os.platform()} ${os.release()}; node-red ${require('node-red/package.json').version}, nodemailer ${require('nodemailer/package.json').version}`,
  );
  console.log(`Benchmark took ${((Date.now() - started) / 1000).toFixed(0)} s.\n`);
  console.log(table(['Measure', 'Result', 'Reference (same run)', 'Ratio / target'], rows));
  process.exit(rows.some((r) => r[3].startsWith('❌')) ? 1 : 0);
})().catch((err) => {
  console.error(err);
  process.exit(2);
});

'use strict';
// A real Node-RED (the devDependency) in a child process, driven over its admin HTTP API and its
// editor websocket, as a user's browser would: GET /nodes, POST /flows, POST /inject/<id>, and the
// debug sidebar's messages.
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
// The websocket client Node-RED's editor API itself depends on (Node 20 has no WebSocket global).
const WebSocket = require(require.resolve('ws', { paths: [path.dirname(require.resolve('@node-red/editor-api/package.json'))] }));

/** A port that was free a moment ago (the OS hands out a fresh one for port 0). */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Polls `url` until it answers 2xx (bounded), or the child exits. */
async function waitForHttp(url, child, timeoutMs = 60000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child && (child.exitCode !== null || child.signalCode !== null)) throw new Error(`process exited (${child.exitCode ?? child.signalCode}) before ${url} answered`);
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch {
      /* not listening yet */
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms`);
}

/** Collects a child's output and resolves when a pattern shows up after a given offset. */
function outputWatcher(child) {
  let text = '';
  const waiters = [];
  const onData = (chunk) => {
    text += chunk.toString();
    for (const w of [...waiters]) {
      const m = w.re.exec(text.slice(w.from));
      if (m) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  child.once('exit', (code, signal) => {
    for (const w of waiters.splice(0)) w.reject(new Error(`process exited (${signal || code}) while waiting for ${w.re}\n${text.slice(-3000)}`));
  });
  return {
    get text() {
      return text;
    },
    get length() {
      return text.length;
    },
    since: (offset) => text.slice(offset),
    waitFor(re, from = 0) {
      const m = re.exec(text.slice(from));
      if (m) return Promise.resolve(m);
      return new Promise((resolve, reject) => waiters.push({ re, from, resolve, reject }));
    },
  };
}

/** Kills a child (SIGINT, as Ctrl-C) and resolves when it has exited. */
function stopChild(child, signal = 'SIGINT') {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', resolve);
    child.kill(signal);
  });
}

/**
 * Starts Node-RED with `userDir` (which holds the installed package) on a free port, offline.
 * `settings` adds lines to settings.js (e.g. nodesDir for the package as built, not installed).
 * `runtime` picks another Node-RED than the devDependency: { node, redJs, env } (see node-red-5.js).
 * Returns { url, port, output, child, api(path, init), deploy(nodes), inject(id), debug, close() }.
 */
async function startNodeRed(userDir, settings = '', runtime = {}) {
  const port = await freePort();
  const settingsFile = path.join(userDir, 'settings.js');
  fs.writeFileSync(
    settingsFile,
    `module.exports = {
  uiHost: '127.0.0.1',
  uiPort: ${port},
  flowFile: 'flows.json',
  credentialSecret: false,
  telemetry: { enabled: false },
  editorTheme: { tours: false, palette: { catalogues: [] } },
  logging: { console: { level: 'info', metrics: false, audit: false } },
  ${settings}
};
`,
  );
  const child = spawn(runtime.node || process.execPath, [runtime.redJs || require.resolve('node-red/red.js'), '--userDir', userDir, '--settings', settingsFile], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: runtime.env || process.env,
  });
  const output = outputWatcher(child);
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitForHttp(`${url}/settings`, child);
  } catch (err) {
    await stopChild(child);
    err.message += `\n${output.text}`;
    throw err;
  }

  // The debug sidebar: the editor's websocket, as the browser opens it.
  const debug = [];
  const ws = new WebSocket(`ws://127.0.0.1:${port}/comms`);
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  ws.send(JSON.stringify({ subscribe: 'debug' }));
  const debugWaiters = [];
  ws.on('message', (data) => {
    for (const { topic, data: d } of JSON.parse(data.toString())) {
      if (topic !== 'debug') continue;
      let value = d.msg;
      if (typeof value === 'string' && /^(Object|object|array)/.test(d.format || '')) {
        try {
          value = JSON.parse(value);
        } catch {
          /* keep the text */
        }
      }
      debug.push({ name: d.name, id: d.id, property: d.property, value });
      for (const w of [...debugWaiters]) {
        if (debug.filter(w.match).length >= w.count) {
          debugWaiters.splice(debugWaiters.indexOf(w), 1);
          w.resolve(debug.filter(w.match));
        }
      }
    }
  });

  const api = (p, init = {}) => fetch(url + p, init);
  return {
    url,
    port,
    child,
    output,
    api,
    debug,
    /** Resolves with the debug messages matching `match` once there are `count` of them. */
    waitForDebug(match, count = 1) {
      const found = debug.filter(match);
      if (found.length >= count) return Promise.resolve(found);
      return new Promise((resolve) => debugWaiters.push({ match, count, resolve }));
    },
    /** Full deploy, as the editor's Deploy button; resolves once the runtime has started the flows. */
    async deploy(nodes) {
      const from = output.length;
      const res = await api('/flows', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'Node-RED-Deployment-Type': 'full' },
        body: JSON.stringify(nodes),
      });
      if (!res.ok) throw new Error(`POST /flows answered ${res.status}: ${await res.text()}`);
      await output.waitFor(/\[info\] Started flows/, from);
      return output.since(from);
    },
    async inject(id) {
      const res = await api(`/inject/${id}`, { method: 'POST' });
      if (!res.ok) throw new Error(`POST /inject/${id} answered ${res.status}: ${await res.text()}`);
    },
    async close() {
      ws.terminate();
      await stopChild(child);
    },
  };
}

module.exports = { freePort, waitForHttp, outputWatcher, stopChild, startNodeRed };

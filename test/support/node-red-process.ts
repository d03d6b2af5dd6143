// A real Node-RED (the devDependency) in a child process, driven over its admin HTTP API and its
// editor websocket, as a user's browser would: GET /nodes, POST /flows, POST /inject/<id>, and the
// debug sidebar's messages.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import path from 'node:path';
import type WS from 'ws';

// The websocket client Node-RED's editor API itself depends on (Node 20 has no WebSocket global).
const WebSocket = createRequire(require.resolve('@node-red/editor-api/package.json'))('ws') as typeof WS;

/** A node of a flow as POST /flows takes it. */
export interface FlowNode {
  id: string;
  type: string;
  [property: string]: unknown;
}

/** What outputWatcher() returns: a child's output so far, and a way to wait for a line in it. */
export interface OutputWatcher {
  readonly text: string;
  readonly length: number;
  /** The output after `offset` (a length read earlier). */
  since(offset: number): string;
  /** Resolves with the first match of `re` in the output after `from`; rejects if the child exits first. */
  waitFor(re: RegExp, from?: number): Promise<RegExpExecArray>;
}

/** A message of the debug sidebar. */
export interface DebugMessage {
  name: string;
  id: string;
  property: string;
  /** The msg (or the msg property) the debug node shows, parsed: whatever the flow put there. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- a msg from Node-RED, open by nature
  value: any;
}

/** Another Node-RED than the devDependency (see node-red-5). */
export interface Runtime {
  node?: string;
  redJs?: string;
  env?: NodeJS.ProcessEnv;
}

/** What startNodeRed() returns. */
export interface NodeRedProcess {
  url: string;
  port: number;
  child: ChildProcess;
  output: OutputWatcher;
  api(p: string, init?: RequestInit): Promise<Response>;
  debug: DebugMessage[];
  waitForDebug(match: (m: DebugMessage) => boolean, count?: number): Promise<DebugMessage[]>;
  deploy(nodes: FlowNode[]): Promise<string>;
  inject(id: string): Promise<void>;
  close(): Promise<void>;
}

/** A port that was free a moment ago (the OS hands out a fresh one for port 0). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Polls `url` until it answers 2xx (bounded), or the child exits. */
export async function waitForHttp(url: string, child?: ChildProcess, timeoutMs = 60000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child && (child.exitCode !== null || child.signalCode !== null))
      throw new Error(`process exited (${child.exitCode ?? child.signalCode}) before ${url} answered`);
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

interface OutputWaiter {
  re: RegExp;
  from: number;
  resolve(m: RegExpExecArray): void;
  reject(err: Error): void;
}

/** Collects a child's output and resolves when a pattern shows up after a given offset. */
export function outputWatcher(child: ChildProcess): OutputWatcher {
  let text = '';
  const waiters: OutputWaiter[] = [];
  const onData = (chunk: Buffer) => {
    text += chunk.toString();
    for (const w of [...waiters]) {
      const m = w.re.exec(text.slice(w.from));
      if (m) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  child.once('exit', (code, signal) => {
    for (const w of waiters.splice(0))
      w.reject(new Error(`process exited (${signal || code}) while waiting for ${w.re}\n${text.slice(-3000)}`));
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
export function stopChild(child: ChildProcess | undefined, signal: NodeJS.Signals = 'SIGINT'): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill(signal);
  });
}

/** fetch() on a Node-RED's admin API: `p` is the path below its URL. */
export type AdminApi = (p: string, init?: RequestInit) => Promise<Response>;

/**
 * Full deploy over `api`, as the editor's Deploy button; resolves once the runtime has started the
 * flows, with what Node-RED printed meanwhile. `started` is that log line in the runtime's
 * language (English unless settings.js sets lang).
 */
export async function deployFlows(
  api: AdminApi,
  output: OutputWatcher,
  nodes: FlowNode[],
  started = /\[info\] Started flows/,
): Promise<string> {
  // The flows of the start first: else their line could be taken for the deploy's, and a test
  // would inject before the deployed flows run.
  await output.waitFor(started, 0);
  const from = output.length;
  const res = await api('/flows', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'Node-RED-Deployment-Type': 'full' },
    body: JSON.stringify(nodes),
  });
  if (!res.ok) throw new Error(`POST /flows answered ${res.status}: ${await res.text()}`);
  await output.waitFor(started, from);
  return output.since(from);
}

/** Clicks the button of inject node `id` over `api`. */
export async function injectNode(api: AdminApi, id: string): Promise<void> {
  const res = await api(`/inject/${id}`, { method: 'POST' });
  if (!res.ok) throw new Error(`POST /inject/${id} answered ${res.status}: ${await res.text()}`);
}

/** Asks the Node-RED at `url` (adminAuth on) for a user's access token, as node-red-admin logs in. */
export function requestToken(url: string, user: { username: string; password: string; scope: string }): Promise<Response> {
  return fetch(`${url}/auth/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ client_id: 'node-red-admin', grant_type: 'password', ...user }),
  });
}

/** One message of the editor's websocket: a topic and its data. */
interface CommsMessage {
  topic: string;
  data: { name: string; id: string; property: string; msg: unknown; format?: string };
}

interface DebugWaiter {
  match(m: DebugMessage): boolean;
  count: number;
  resolve(found: DebugMessage[]): void;
}

/**
 * Starts Node-RED with `userDir` (which holds the installed package) on a free port, offline.
 * `settings` adds lines to settings.js (e.g. nodesDir for the package as built, not installed).
 * `runtime` picks another Node-RED than the devDependency: { node, redJs, env } (see node-red-5.js).
 * Returns { url, port, output, child, api(path, init), deploy(nodes), inject(id), debug, close() }.
 */
export async function startNodeRed(userDir: string, settings = '', runtime: Runtime = {}): Promise<NodeRedProcess> {
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
  const child = spawn(
    runtime.node || process.execPath,
    [runtime.redJs || require.resolve('node-red/red.js'), '--userDir', userDir, '--settings', settingsFile],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: runtime.env || process.env,
    },
  );
  const output = outputWatcher(child);
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitForHttp(`${url}/settings`, child);
  } catch (err) {
    await stopChild(child);
    if (err instanceof Error) err.message += `\n${output.text}`;
    throw err;
  }

  // The debug sidebar: the editor's websocket, as the browser opens it.
  const debug: DebugMessage[] = [];
  const ws = new WebSocket(`ws://127.0.0.1:${port}/comms`);
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  ws.send(JSON.stringify({ subscribe: 'debug' }));
  const debugWaiters: DebugWaiter[] = [];
  ws.on('message', (data) => {
    for (const { topic, data: d } of JSON.parse(data.toString()) as CommsMessage[]) {
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

  const api = (p: string, init: RequestInit = {}) => fetch(url + p, init);
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
    deploy: (nodes) => deployFlows(api, output, nodes),
    inject: (id) => injectNode(api, id),
    async close() {
      ws.terminate();
      await stopChild(child);
    },
  };
}

// Loads the two nodes into a real Node-RED runtime (node-red-node-test-helper).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { LocalSettings } from '@node-red/runtime';
import type { Node, NodeInitializer, NodeMessageInFlow, NodeStatus } from 'node-red';
import baseHelper from 'node-red-node-test-helper';
import type { SinonSpy, SinonSpyCall } from 'sinon';
import type { MailError } from '../../src/lib/errors/errors';
import type { FailureResult, PreviewResult, SuccessResult } from '../../src/lib/message/message';
import type { RetryTiming } from '../../src/lib/delivery/retry';
import type { StoredConnection } from '../../src/lib/config/connection-config';
import type { ConnectionCredentials } from '../../src/lib/config/transport-options';
import { startSmtp, type SmtpOptions, type SmtpServer } from './smtp';
import { fakeClock, type FakeClock } from './clock';
import configNode from '../../src/nodes/smtp-oauth-config/smtp-oauth-config';
import type { SmtpOauthConfigNode } from '../../src/nodes/smtp-oauth-config/types';
import sendNode from '../../src/nodes/send-smtp-email/send-smtp-email';
// @ts-expect-error -- Node-RED's core nodes are JavaScript without type declarations.
import catchNodeModule from '@node-red/nodes/core/common/25-catch.js';

const catchNode: NodeInitializer = catchNodeModule;

/** Settings of the test runtime: Node-RED's, and the settings.js keys the config node reads (for tests only). */
export type TestSettings = Partial<LocalSettings> & {
  smtpOauthConfigRetryTiming?: RetryTiming;
  smtpOauthConfigRateWindowMs?: number;
  smtpOauthConfigCloseGraceMs?: number;
  smtpOauthConfigRedisLockMs?: number;
  smtpOauthConfigMaxAttachmentMB?: unknown;
  /** Read by the send node. */
  smtpOauthConfigMaxRecipients?: unknown;
};

/** A log event of the runtime, as the helper's log spy records it. */
export interface LogEvent {
  level: number;
  msg: unknown;
  type?: string;
  id?: string;
}

/** The helper's spy on the runtime's log, with the levels to compare an event's level with. */
export type LogSpy = SinonSpy<[event: LogEvent]> & Record<'FATAL' | 'ERROR' | 'WARN' | 'INFO' | 'DEBUG' | 'TRACE' | 'METRIC', number>;

/**
 * The error of a stored result, as the tests read it: every error the nodes report carries a code
 * and a hint that says what to fix (src/lib/errors.ts).
 */
export type ReportedError = FailureResult['error'] & { code: string; hint: string };

/**
 * A result the send node stores (msg.emailResult by default), as the tests read it: the fields of a
 * success, a preview and a failure (src/lib/message.ts) in one type, as each test knows which of
 * them it expects; `success` tells them apart.
 */
export interface EmailResult extends Omit<SuccessResult, 'success'>, Partial<Pick<PreviewResult, 'preview' | 'eml'>> {
  success: boolean;
  error: ReportedError;
  /** A cid: the mail has no image for. */
  warnings?: string[];
}

/** msg.error at a Catch node: what Node-RED makes of the error the node reported. */
export interface CaughtError {
  message: string;
  code?: string;
  source: { id: string; type: string; name?: string; count: number };
}

/**
 * A msg as a helper or Catch node receives it. The fields the nodes set are declared as a test
 * reads them: emailResult where the send node stored its result in msg, error at a Catch node.
 */
export interface Msg extends NodeMessageInFlow {
  emailResult: EmailResult;
  error: CaughtError;
}

/** The methods of Node.prototype the test helper replaces with spies. */
type Spied = 'log' | 'status' | 'warn' | 'error' | 'debug' | 'trace' | 'send';

/** The arguments the spies record, as the nodes here call them. */
interface SpiedArgs {
  log: [msg: unknown];
  warn: [msg: unknown];
  debug: [msg: unknown];
  trace: [msg: unknown];
  /** An error, with the msg it failed (none for a problem at deploy). */
  error: [err: MailError, msg?: Msg];
  /** The nodes here show object statuses only. */
  status: [status: NodeStatus];
  send: [msg: Msg];
}

/** One recorded call of a spied method. */
export type SpyCall<M extends Spied> = SinonSpyCall<SpiedArgs[M], void>;

/**
 * A node in the test runtime. The helper replaces log, status, warn, error, debug, trace and send
 * of Node.prototype with sinon spies (one spy for all nodes: a test tells its node's calls by their
 * thisValue) that also emit `call:<method>` on the node, with the call, on the next tick.
 */
export interface TestNode extends Omit<Node, Spied | 'on'> {
  log: ((...args: SpiedArgs['log']) => void) & SinonSpy<SpiedArgs['log'], void>;
  warn: ((...args: SpiedArgs['warn']) => void) & SinonSpy<SpiedArgs['warn'], void>;
  debug: ((...args: SpiedArgs['debug']) => void) & SinonSpy<SpiedArgs['debug'], void>;
  trace: ((...args: SpiedArgs['trace']) => void) & SinonSpy<SpiedArgs['trace'], void>;
  error: ((...args: SpiedArgs['error']) => void) & SinonSpy<SpiedArgs['error'], void>;
  status: ((...args: SpiedArgs['status']) => void) & SinonSpy<SpiedArgs['status'], void>;
  send: ((...args: SpiedArgs['send']) => void) & SinonSpy<SpiedArgs['send'], void>;
  on(event: 'input', listener: (msg: Msg) => void): this;
  on<M extends Spied>(event: `call:${M}`, listener: (call: SpyCall<M>) => void): this;
}

/** The connection (smtp-oauth-config) in the test runtime. */
export interface ConfigNode extends TestNode, Omit<SmtpOauthConfigNode, keyof Node> {}

/** A node of a flow as deployed: its properties are the node's own. */
export interface FlowNode {
  id: string;
  type: string;
  z?: string;
  name?: string;
  wires?: string[][];
  [property: string]: unknown;
}

/**
 * The test helper, with the types of what these tests use: settings() that also takes the config
 * node's keys (and none, for the current settings), startServer() and stopServer() as the promises
 * they return, the log spy with its levels, and the nodes with their spies.
 */
export interface TestHelper extends Omit<
  typeof baseHelper,
  'settings' | 'startServer' | 'stopServer' | 'log' | 'getNode' | 'load' | 'setFlows'
> {
  settings(settings?: TestSettings): LocalSettings;
  startServer(): Promise<void>;
  stopServer(): Promise<void>;
  log(): LogSpy;
  getNode(id: string): TestNode;
  load(nodes: NodeInitializer[], flow: FlowNode[], credentials?: Record<string, ConnectionCredentials>): Promise<void>;
  setFlows(flow: FlowNode[], type: 'full' | 'flows' | 'nodes', credentials?: Record<string, ConnectionCredentials>): Promise<void>;
}

export const helper = baseHelper as unknown as TestHelper;
helper.init(require.resolve('node-red'));

// Node-RED gives nodes a user directory (the connections' outboxes live there); the test helper
// gives none. Each test gets a fresh one, kept through the test's own helper.settings() calls, so
// that mails one test leaves in an outbox are never sent by the next.
let userDir: string;
const mergeSettings = helper.settings.bind(helper);
helper.settings = (settings) => mergeSettings(settings ? { userDir, ...settings } : undefined);
const created: string[] = [];
beforeEach(function () {
  userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nr-helper-'));
  created.push(userDir);
  mergeSettings({ userDir });
});
after(function () {
  for (const dir of created.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});
/** The user directory of the current test. */
export const currentUserDir = (): string => userDir;

/**
 * The hooks of a describe whose tests deploy flows that send to one loopback SMTP server: the server
 * (startSmtp with `options`) runs from before the first test to after the last; each test gets the
 * helper's server, and afterwards its flow unloaded, the helper's server stopped and what the SMTP
 * server received and was offered forgotten. Returns a getter of the SMTP server, to call in a test
 * or a hook (the server starts in before()).
 */
export function useHelperWithSmtp(options: SmtpOptions): () => SmtpServer {
  let smtp: SmtpServer | undefined;
  before(async function () {
    smtp = await startSmtp(options);
  });
  after(() => smtp?.close());
  beforeEach(() => helper.startServer());
  afterEach(async function () {
    await helper.unload();
    await helper.stopServer();
    if (!smtp) return;
    smtp.messages.length = 0;
    smtp.authAttempts.length = 0;
  });
  return () => {
    if (!smtp) throw new Error('the SMTP server starts in before()');
    return smtp;
  };
}

export interface DeployOptions {
  /** Properties of smtp-oauth-config. */
  connection?: StoredConnection & { name?: string };
  /** Properties of send-smtp-email. */
  send?: Record<string, unknown>;
  /** Of the connection. */
  credentials?: ConnectionCredentials;
  /** More nodes in the flow. */
  extra?: FlowNode[];
}

/** The deployed nodes: the send node, the helper nodes at its output and at the Catch node, and the connection. */
export interface Deployed {
  send: TestNode;
  out: TestNode;
  caught: TestNode;
  config: ConfigNode;
}

/**
 * Deploys tab -> send-smtp-email -> helper node, with one connection.
 * connection: properties of smtp-oauth-config; send: properties of send-smtp-email;
 * credentials: of the connection. Returns { send, out, caught, config }.
 */
export async function deploy({ connection = {}, send = {}, credentials = {}, extra = [] }: DeployOptions = {}): Promise<Deployed> {
  const flow: FlowNode[] = [
    { id: 'tab', type: 'tab', label: 'test' },
    { id: 'conn', type: 'smtp-oauth-config', z: '', host: '127.0.0.1', security: 'none', authType: 'basic', ...connection },
    {
      id: 'send',
      type: 'send-smtp-email',
      z: 'tab',
      connection: 'conn',
      to: 'to@example.com',
      subject: 'Hello',
      html: '<p>Hi</p>',
      wires: [['out']],
      ...send,
    },
    { id: 'out', type: 'helper', z: 'tab' },
    { id: 'catcher', type: 'catch', z: 'tab', scope: null, uncaught: false, wires: [['caught']] },
    { id: 'caught', type: 'helper', z: 'tab' },
    ...extra,
  ];
  await helper.load([configNode, sendNode, catchNode], flow, { conn: credentials });
  return {
    send: helper.getNode('send'),
    out: helper.getNode('out'),
    caught: helper.getNode('caught'),
    config: helper.getNode('conn') as ConfigNode,
  };
}

/** Resolves once the send node's status shows that `test()` holds. */
export function whenStatus(node: TestNode, test: () => boolean): Promise<void> {
  if (test()) return Promise.resolve();
  return new Promise((resolve) => node.on('call:status', () => test() && resolve()));
}

/**
 * Backoff on a fake clock that jumps to each timer at once, for the connections of the next
 * deploy; random 0.5 makes the delays exact (1 s, 2 s, 4 s …). Returns the clock.
 */
export function instantBackoff(): FakeClock {
  const clock = fakeClock({ auto: true });
  helper.settings({ smtpOauthConfigRetryTiming: { now: clock.now, timers: clock, random: () => 0.5 } });
  return clock;
}

/** Resolves with the next message the helper node receives. */
export function next(node: TestNode): Promise<Msg> {
  return new Promise((resolve) => node.once('input', resolve));
}

/** How a msg ended: passed on at the output, or reported to the Catch node. */
export interface Outcome {
  kind: 'sent' | 'caught';
  msg: Msg;
}

/** Resolves with the first of: a msg on the output, a msg at the Catch node. */
export function outcome(nodes: Pick<Deployed, 'out' | 'caught'>): Promise<Outcome> {
  // `on`, not `once`: Node-RED's removeListener('input') matches only the function registered, not
  // the wrapper `once` registers, so the listener of the side that did not fire stayed behind; when
  // a stale one fires and removes itself mid-delivery, the node skips the next input listener.
  return new Promise((resolve) => {
    const onOut = (msg: Msg) => finish({ kind: 'sent', msg });
    const onCaught = (msg: Msg) => finish({ kind: 'caught', msg });
    function finish(r: Outcome) {
      nodes.out.removeListener('input', onOut);
      nodes.caught.removeListener('input', onCaught);
      resolve(r);
    }
    nodes.out.on('input', onOut);
    nodes.caught.on('input', onCaught);
  });
}

'use strict';
// Throughput: the send node inside a started Node-RED vs raw pooled nodemailer vs node-red-node-email,
// against the same sink, in the same process, in the same run.
const nodemailer = require('nodemailer');
const { pump } = require('./common');

const HTML = '<p>Hi</p>';
const TEXT = 'Hi'; // what the send node derives from HTML

/** nodemailer's own pool to the sink, as the references use it. */
function rawTransport(sink, pool) {
  return nodemailer.createTransport({
    pool: true,
    maxConnections: pool,
    host: '127.0.0.1',
    port: sink.port,
    secure: false,
    ignoreTLS: true,
    disableFileAccess: true,
    disableUrlAccess: true,
  });
}

/** The message the send node builds from its flow (sendNodeFlow), given to nodemailer directly. */
const sendRaw = (transport) =>
  transport.sendMail({ from: 'bench@example.com', to: 'to@example.com', subject: 'Hello', html: HTML, text: TEXT, priority: 'normal' });

/** Raw nodemailer: a pool of `pool` connections, the same message the send node builds. */
async function rawNodemailer(sink, { total, inFlight, pool }) {
  const transport = rawTransport(sink, pool);
  try {
    const ms = await pump(total, inFlight, () => sendRaw(transport));
    return ms;
  } finally {
    transport.close();
  }
}

/** Deploys tab, the given nodes, a Catch node and the probes; returns the driver of one input node. */
async function deployWithProbes(rt, nodes, { input, caughtScope }) {
  const pendings = new Map();
  await rt.deploy([
    { id: 'tab', type: 'tab', label: 'bench' },
    ...nodes,
    { id: 'done', type: 'bench-probe', z: 'tab' },
    { id: 'catch', type: 'catch', z: 'tab', scope: caughtScope, uncaught: false, wires: [['caught']] },
    { id: 'caught', type: 'bench-probe', z: 'tab' },
  ]);
  rt.onProbe('done', (msg) => {
    pendings.get(msg._msgid)?.resolve(msg);
    pendings.delete(msg._msgid);
  });
  rt.onProbe('caught', (msg) => {
    pendings.get(msg._msgid)?.reject(new Error(`${input} failed: ${msg.error && msg.error.message}`));
    pendings.delete(msg._msgid);
  });
  let seq = 0;
  return {
    node: rt.node(input),
    /** Sends one msg into the input node; resolves when it reached the `done` probe. */
    send(msg) {
      const id = `bench-${++seq}`;
      return new Promise((resolve, reject) => {
        pendings.set(id, { resolve, reject });
        rt.node(input).receive({ ...msg, _msgid: id });
      });
    },
    pending: () => pendings.size,
  };
}

/** The send node of this package: connection + send node wired to the probe. */
function sendNodeFlow(sink, { connection = {}, send = {}, credentials = { user: 'bench@example.com' } } = {}) {
  return [
    {
      id: 'conn',
      type: 'smtp-oauth-config',
      host: '127.0.0.1',
      port: String(sink.port),
      security: 'none',
      authType: 'none',
      maxConnections: '5',
      rateLimitPerMinute: '0',
      credentials,
      ...connection,
    },
    {
      id: 'send',
      type: 'send-smtp-email',
      z: 'tab',
      connection: 'conn',
      to: 'to@example.com',
      toType: 'str',
      subject: 'Hello',
      subjectType: 'str',
      html: HTML,
      htmlType: 'str',
      storeResult: 'msg',
      resultKey: 'emailResult',
      stopOnError: true,
      wires: [['done']],
      ...send,
    },
  ];
}

async function sendNode(rt, sink, { total, inFlight, pool, flow = {} }) {
  const driver = await deployWithProbes(
    rt,
    sendNodeFlow(sink, { ...flow, connection: { maxConnections: String(pool), ...(flow.connection || {}) } }),
    { input: 'send', caughtScope: ['send'] },
  );
  return pump(total, inFlight, () => driver.send({ payload: { n: 1 } }));
}

/** The floor inside Node-RED: a minimal node calling the same raw pooled transport. */
async function nodemailerInNodeRed(rt, sink, { total, inFlight, pool }) {
  const transport = rawTransport(sink, pool);
  rt.setNodemailer(() => sendRaw(transport));
  try {
    const driver = await deployWithProbes(rt, [{ id: 'minimal', type: 'bench-nodemailer', z: 'tab', wires: [['done']] }], {
      input: 'minimal',
      caughtScope: ['minimal'],
    });
    return await pump(total, inFlight, () => driver.send({ payload: {} }));
  } finally {
    transport.close();
  }
}

/** node-red-node-email's `e-mail` node: completion seen by a Complete node (it has no output). */
async function emailNode(rt, sink, { total, inFlight }) {
  const driver = await deployWithProbes(
    rt,
    [
      {
        id: 'email',
        type: 'e-mail',
        z: 'tab',
        server: '127.0.0.1',
        port: String(sink.port),
        secure: false,
        tls: false,
        authtype: 'NONE',
        name: 'to@example.com',
      },
      { id: 'complete', type: 'complete', z: 'tab', scope: ['email'], uncaught: false, wires: [['done']] },
    ],
    { input: 'email', caughtScope: ['email'] },
  );
  return pump(total, inFlight, () => driver.send({ payload: HTML, topic: 'Hello', from: 'bench@example.com' }));
}

module.exports = { rawNodemailer, nodemailerInNodeRed, sendNode, emailNode, deployWithProbes, sendNodeFlow };

'use strict';
// Loads the two nodes into a real Node-RED runtime (node-red-node-test-helper).
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const helper = require('node-red-node-test-helper');
const configNode = require('../../dist/nodes/smtp-oauth-config/smtp-oauth-config.js');
const sendNode = require('../../dist/nodes/send-smtp-email/send-smtp-email.js');
const catchNode = require('@node-red/nodes/core/common/25-catch.js');

helper.init(require.resolve('node-red'));

// Node-RED gives nodes a user directory (the connections' outboxes live there); the test helper
// gives none. Each test gets a fresh one, kept through the test's own helper.settings() calls, so
// that mails one test leaves in an outbox are never sent by the next.
let userDir;
const mergeSettings = helper.settings.bind(helper);
helper.settings = (settings) => mergeSettings(settings ? { userDir, ...settings } : undefined);
const created = [];
beforeEach(function () {
  userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nr-helper-'));
  created.push(userDir);
  mergeSettings({ userDir });
});
after(function () {
  for (const dir of created.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});
/** The user directory of the current test. */
const currentUserDir = () => userDir;

/**
 * Deploys tab -> send-smtp-email -> helper node, with one connection.
 * connection: properties of smtp-oauth-config; send: properties of send-smtp-email;
 * credentials: of the connection. Returns { send, out, catcher, config, errors }.
 */
async function deploy({ connection = {}, send = {}, credentials = {}, extra = [] } = {}) {
  const flow = [
    { id: 'tab', type: 'tab', label: 'test' },
    { id: 'conn', type: 'smtp-oauth-config', z: '', host: '127.0.0.1', security: 'none', authType: 'basic', ...connection },
    { id: 'send', type: 'send-smtp-email', z: 'tab', connection: 'conn', to: 'to@example.com', subject: 'Hello', html: '<p>Hi</p>', wires: [['out']], ...send },
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
    config: helper.getNode('conn'),
  };
}

/** Resolves with the next message the helper node receives. */
function next(node) {
  return new Promise((resolve) => node.once('input', resolve));
}

/** Resolves with the first of: a msg on the output, a msg at the Catch node. */
function outcome(nodes) {
  // `on`, not `once`: Node-RED's removeListener('input') matches only the function registered, not
  // the wrapper `once` registers, so the listener of the side that did not fire stayed behind; when
  // a stale one fires and removes itself mid-delivery, the node skips the next input listener.
  return new Promise((resolve) => {
    const onOut = (msg) => finish({ kind: 'sent', msg });
    const onCaught = (msg) => finish({ kind: 'caught', msg });
    function finish(r) {
      nodes.out.removeListener('input', onOut);
      nodes.caught.removeListener('input', onCaught);
      resolve(r);
    }
    nodes.out.on('input', onOut);
    nodes.caught.on('input', onCaught);
  });
}

module.exports = { helper, deploy, next, outcome, currentUserDir };

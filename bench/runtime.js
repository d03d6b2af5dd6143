'use strict';
// A real Node-RED runtime (not the test helper: it records every node call with sinon spies,
// which would cost time and memory that users never pay), started in this process with a
// temporary user directory where this package is installed as a symlink, like `npm link`.
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');

const root = path.join(__dirname, '..');

/** Creates a user directory with the package (and optionally the probe node and node-red-node-email) installed. */
function makeUserDir({ withPackage = true, withProbe = true, emailNode } = {}) {
  const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'smtp-bench-'));
  fs.writeFileSync(path.join(userDir, 'package.json'), JSON.stringify({ name: 'bench-user-dir', private: true, dependencies: {} }));
  if (withPackage) {
    const scope = path.join(userDir, 'node_modules', '@mailwire');
    fs.mkdirSync(scope, { recursive: true });
    fs.symlinkSync(root, path.join(scope, 'node-red-send-smtp-email'), 'dir');
  }
  if (emailNode) {
    fs.mkdirSync(path.join(userDir, 'node_modules'), { recursive: true });
    fs.symlinkSync(emailNode, path.join(userDir, 'node_modules', 'node-red-node-email'), 'dir');
  }
  if (withProbe) {
    fs.mkdirSync(path.join(userDir, 'nodes'));
    for (const f of fs.readdirSync(path.join(__dirname, 'probe')))
      fs.copyFileSync(path.join(__dirname, 'probe', f), path.join(userDir, 'nodes', f));
  }
  return userDir;
}

/** Settings of an offline, quiet runtime. */
function baseSettings(userDir, extra = {}) {
  return {
    userDir,
    flowFile: path.join(userDir, 'flows.json'),
    credentialSecret: false,
    httpAdminRoot: false,
    httpNodeRoot: false,
    disableEditor: true,
    telemetry: { enabled: false },
    editorTheme: { tours: false, palette: { catalogues: [] } },
    logging: { console: { level: 'error', metrics: false, audit: false } },
    ...extra,
  };
}

/**
 * Starts Node-RED. Returns { RED, deploy(flows), probe: EventEmitter-like on(id, fn), stop() }.
 * deploy() replaces all flows (credentials inline in the nodes, as the editor sends them) and
 * resolves once they started.
 */
async function startRuntime(extraSettings = {}, userDirOptions = {}) {
  const RED = require('node-red');
  const userDir = makeUserDir(userDirOptions);
  const listeners = new Map();
  const hooks = { nodemailer: () => Promise.reject(new Error('no transport')) };
  const settings = baseSettings(userDir, {
    benchProbe: (id, msg) => listeners.get(id)?.(msg),
    benchNodemailer: (msg) => hooks.nodemailer(msg),
    ...extraSettings,
  });
  RED.init(http.createServer(), settings);
  // start() resolves before the (empty) flows have started: wait for that too.
  const firstStart = new Promise((resolve) => RED.events.once('flows:started', resolve));
  await RED.start();
  await firstStart;
  return {
    RED,
    userDir,
    /** What the bench-nodemailer node calls for each msg. */
    setNodemailer(fn) {
      hooks.nodemailer = fn;
    },
    onProbe(id, fn) {
      listeners.set(id, fn);
    },
    async deploy(flows) {
      const started = new Promise((resolve) => RED.events.once('flows:started', resolve));
      // Nodes on a tab need x/y, else the runtime takes them for config nodes.
      await RED.nodes.setFlows(
        flows.map((n) => (n.z ? { x: 100, y: 100, ...n } : n)),
        null,
        'full',
      );
      await started;
    },
    node: (id) => RED.nodes.getNode(id),
    async stop() {
      await RED.stop();
      fs.rmSync(userDir, { recursive: true, force: true });
    },
  };
}

module.exports = { startRuntime, makeUserDir, baseSettings, root };

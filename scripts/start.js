#!/usr/bin/env node
// `npm start`: the newcomer's demo. Builds if needed, installs this package into a git-ignored
// Node-RED user dir from its own tarball (as the palette would), starts a development inbox and
// Node-RED on 127.0.0.1 with a ready demo flow, prints both URLs, and stops both on Ctrl-C.
//
// Environment: NODE_RED_PORT (1880), INBOX_PORT (1080, the inbox page), INBOX_SMTP_PORT (1025),
// DEMO_USER_DIR (<project>/.node-red-demo), INBOX_PASSWORD (or `npm start -- --inbox-password <p>`:
// the inbox then refuses any other login, to practise a wrong one).
'use strict';
const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { buildIfNeeded, installIntoUserDir, root } = require('./install-package');
const { startInbox, inboxPassword, loginRule } = require('./dev-inbox');
const { demoFlow } = require('./demo-flow');

const HOST = '127.0.0.1';
const nodeRedPort = port('NODE_RED_PORT', 1880);
const inboxPort = port('INBOX_PORT', 1080);
const inboxSmtpPort = port('INBOX_SMTP_PORT', 1025);
const userDir = path.resolve(process.env.DEMO_USER_DIR || path.join(root, '.node-red-demo'));
const log = (line) => console.log(`[start] ${line}`);

// The demo user dir's credential key. Without one, Node-RED generates a key, keeps it in
// .config.runtime.json and warns about it on every start. This folder is a git-ignored demo served
// on 127.0.0.1 only, and a generated key would sit in the same folder as the credentials anyway,
// so a fixed key hides nothing and keeps the newcomer's output free of warnings. It is not a
// secret: never copy it into a real settings.js.
const DEMO_CREDENTIAL_SECRET = 'node-red-send-smtp-email-demo';

function port(name, fallback) {
  const value = process.env[name];
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    console.error(`${name} must be a port number, not "${value}"`);
    process.exit(2);
  }
  return n;
}

function writeSettings() {
  // Written on every start so that ports from the environment apply; flows.json is the user's.
  fs.writeFileSync(
    path.join(userDir, 'settings.js'),
    `// Written by scripts/start.js on every start: edit that script, not this file.
module.exports = {
  uiHost: ${JSON.stringify(HOST)},
  uiPort: ${nodeRedPort},
  flowFile: 'flows.json',
  credentialSecret: ${JSON.stringify(DEMO_CREDENTIAL_SECRET)}, // a demo key, see scripts/start.js
  telemetry: { enabled: false },
  editorTheme: { tours: false, palette: { catalogues: [] } },
  logging: { console: { level: 'info', metrics: false, audit: false } },
};
`,
  );
  const flowFile = path.join(userDir, 'flows.json');
  if (!fs.existsSync(flowFile)) {
    fs.writeFileSync(flowFile, JSON.stringify(demoFlow(), null, 2));
    log(`Wrote the demo flow to ${path.relative(process.cwd(), flowFile)} (delete it to get the demo back)`);
  }
  // Without a credentials file Node-RED warns "Encrypted credentials not found": write an empty one,
  // as Node-RED itself does on the first deploy. Not when an earlier start left a generated key
  // behind: Node-RED moves from that key to the demo key at the next deploy (until then it warns).
  const credFile = path.join(userDir, 'flows_cred.json');
  if (!fs.existsSync(credFile) && !generatedKey()) {
    fs.writeFileSync(credFile, JSON.stringify(encryptCredentials(DEMO_CREDENTIAL_SECRET, {}), null, 4));
  }
}

/** Whether Node-RED generated its own credential key in this user dir (before the demo key was set). */
function generatedKey() {
  try {
    return !!JSON.parse(fs.readFileSync(path.join(userDir, '.config.runtime.json'), 'utf8'))._credentialSecret;
  } catch {
    return false;
  }
}

/** Node-RED's credentials file format (@node-red/runtime/lib/nodes/credentials.js): AES-256-CTR, key = SHA-256 of the secret. */
function encryptCredentials(secret, credentials) {
  const key = crypto.createHash('sha256').update(secret).digest();
  const iv = crypto.randomBytes(16);
  const cipher = crypto.createCipheriv('aes-256-ctr', key, iv);
  return { $: iv.toString('hex') + cipher.update(JSON.stringify(credentials), 'utf8', 'base64') + cipher.final('base64') };
}

/** Polls the editor's HTTP endpoint until Node-RED answers (it starts in a second or two). */
async function waitForNodeRed(child) {
  const deadline = Date.now() + 120000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) return false;
    try {
      const res = await fetch(`http://${HOST}:${nodeRedPort}/settings`);
      if (res.ok) return true;
    } catch {
      /* not listening yet */
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return false;
}

const password = inboxPassword(process.argv.slice(2), process.env);

async function main() {
  buildIfNeeded({ log });
  fs.mkdirSync(userDir, { recursive: true });
  installIntoUserDir(userDir, { log });
  writeSettings();

  let inbox;
  try {
    inbox = await startInbox({ host: HOST, smtpPort: inboxSmtpPort, httpPort: inboxPort, password });
  } catch (err) {
    console.error(`The development inbox could not start: ${err.message}. Set INBOX_PORT / INBOX_SMTP_PORT to free ports.`);
    process.exit(1);
  }
  inbox.events.on('message', (m) => {
    const p = m.parsed;
    log(
      `Inbox received "${p.subject || ''}" from ${m.envelope.mailFrom ? m.envelope.mailFrom.address : '?'} to ${m.envelope.rcptTo.map((r) => r.address).join(', ')}`,
    );
  });

  const red = spawn(
    process.execPath,
    [require.resolve('node-red/red.js'), '--userDir', userDir, '--settings', path.join(userDir, 'settings.js')],
    {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, INBOX_SMTP_PORT: String(inbox.smtpPort), INBOX_URL: inbox.url },
    },
  );

  let stopping = false;
  const stop = async (code) => {
    if (stopping) return;
    stopping = true;
    log('Stopping Node-RED and the development inbox…');
    if (red.exitCode === null && red.signalCode === null) {
      const exited = new Promise((resolve) => red.once('exit', resolve));
      red.kill('SIGINT'); // Node-RED closes its flows (and our SMTP pools) on SIGINT
      await exited;
    }
    await inbox.close();
    process.exit(code);
  };
  process.on('SIGINT', () => stop(0));
  process.on('SIGTERM', () => stop(0));
  red.on('exit', (code, signal) => {
    if (stopping) return;
    console.error(`Node-RED exited (${signal || code}).${code ? ` Is port ${nodeRedPort} free? Set NODE_RED_PORT to use another.` : ''}`);
    stop(code || 1);
  });

  if (await waitForNodeRed(red)) {
    console.log(`
  Node-RED:           http://${HOST}:${nodeRedPort}/
  Development inbox:  ${inbox.url}   (SMTP ${HOST}:${inbox.smtpPort}, no TLS, ${loginRule(password)})

  Open Node-RED, click the button of the inject node "Send demo mail",
  and the mail shows up in the inbox. Ctrl-C stops both.
`);
    log('Ready');
  }
}

main().catch((err) => {
  console.error(err && err.stack ? err.stack : err);
  process.exit(1);
});

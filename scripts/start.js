#!/usr/bin/env node
// `npm start`: the newcomer's demo. Builds if needed, installs this package into a git-ignored
// Node-RED user dir from its own tarball (as the palette would), starts a development inbox and
// Node-RED on 127.0.0.1 with a ready demo flow, prints both URLs, and stops both on Ctrl-C.
//
// Environment: NODE_RED_PORT (1880), INBOX_PORT (1080, the inbox page), INBOX_SMTP_PORT (1025),
// DEMO_USER_DIR (<project>/.node-red-demo).
'use strict';
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { buildIfNeeded, installIntoUserDir, root } = require('./install-package');
const { startInbox } = require('./dev-inbox');
const { demoFlow } = require('./demo-flow');

const HOST = '127.0.0.1';
const nodeRedPort = port('NODE_RED_PORT', 1880);
const inboxPort = port('INBOX_PORT', 1080);
const inboxSmtpPort = port('INBOX_SMTP_PORT', 1025);
const userDir = path.resolve(process.env.DEMO_USER_DIR || path.join(root, '.node-red-demo'));
const log = (line) => console.log(`[start] ${line}`);

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

async function main() {
  buildIfNeeded({ log });
  fs.mkdirSync(userDir, { recursive: true });
  installIntoUserDir(userDir, { log });
  writeSettings();

  let inbox;
  try {
    inbox = await startInbox({ host: HOST, smtpPort: inboxSmtpPort, httpPort: inboxPort });
  } catch (err) {
    console.error(`The development inbox could not start: ${err.message}. Set INBOX_PORT / INBOX_SMTP_PORT to free ports.`);
    process.exit(1);
  }
  inbox.events.on('message', (m) => {
    const p = m.parsed;
    log(`Inbox received "${p.subject || ''}" from ${m.envelope.mailFrom ? m.envelope.mailFrom.address : '?'} to ${m.envelope.rcptTo.map((r) => r.address).join(', ')}`);
  });

  const red = spawn(process.execPath, [require.resolve('node-red/red.js'), '--userDir', userDir, '--settings', path.join(userDir, 'settings.js')], {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, INBOX_SMTP_PORT: String(inbox.smtpPort), INBOX_URL: inbox.url },
  });

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
  Development inbox:  ${inbox.url}   (SMTP ${HOST}:${inbox.smtpPort}, no TLS, no login)

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

'use strict';
// The package as users get it: packed, installed into a fresh Node-RED user directory the way the
// palette manager installs it, and served by a real Node-RED on 127.0.0.1 for the browser tests.
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { installIntoUserDir } = require('../../scripts/install-package');
const { freePort } = require('./node-red-process');

/**
 * Starts Node-RED (the devDependency) on 127.0.0.1 with the packed package installed.
 * Resolves with { url, port, userDir, output(), stop() }.
 */
async function startEditorNodeRed() {
  const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'smtp-editor-user-'));
  let child;
  const stop = async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    fs.rmSync(userDir, { recursive: true, force: true });
  };
  try {
    installIntoUserDir(userDir); // npm pack, then the palette manager's npm install arguments
    const port = await freePort();
    const settings = path.join(userDir, 'settings.js');
    fs.writeFileSync(
      settings,
      `module.exports = ${JSON.stringify(
        {
          uiHost: '127.0.0.1',
          uiPort: port,
          flowFile: 'flows.json',
          credentialSecret: 'editor-test-only',
          telemetry: { enabled: false },
          editorTheme: { tours: false, palette: { catalogues: [] }, projects: { enabled: false } },
          logging: { console: { level: 'info', metrics: false, audit: false } },
          externalModules: { palette: { allowInstall: false } },
          // A node setting the package registers: the dialog's default for new connections.
          smtpOauthConfigMaxAttachmentMB: 40,
        },
        null,
        2,
      )};\n`,
    );
    const redJs = path.join(path.dirname(require.resolve('node-red/package.json')), 'red.js');
    child = spawn(process.execPath, [redJs, '--userDir', userDir, '--settings', settings], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const ready = new Promise((resolve, reject) => {
      const onData = (chunk) => {
        output += chunk.toString();
        if (/Started flows/.test(output)) resolve();
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.once('exit', (code, signal) => reject(new Error(`Node-RED exited (${signal || code}) before it started:\n${output.slice(-3000)}`)));
    });
    await ready;
    return { url: `http://127.0.0.1:${port}/`, port, userDir, output: () => output, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

module.exports = { startEditorNodeRed, freePort };

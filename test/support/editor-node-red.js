'use strict';
// The package as users get it: packed, installed into a fresh Node-RED user directory the way the
// palette manager installs it, and served by a real Node-RED on 127.0.0.1 for the browser tests.
const { execFile, spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { promisify } = require('node:util');

const run = promisify(execFile);
const root = path.join(__dirname, '..', '..');
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';

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

/** `npm pack` of the built package (`npm test` builds first), then the palette manager's install command. */
async function installPacked(userDir) {
  const packDir = fs.mkdtempSync(path.join(os.tmpdir(), 'smtp-editor-pack-'));
  try {
    const { stdout } = await run(NPM, ['pack', '--ignore-scripts', '--json', '--pack-destination', packDir], { cwd: root, maxBuffer: 64 * 1024 * 1024 });
    const tarball = path.join(packDir, JSON.parse(stdout)[0].filename);
    fs.writeFileSync(path.join(userDir, 'package.json'), JSON.stringify({ name: 'node-red-project', description: 'editor test', version: '0.0.1', private: true }, null, 2));
    await run(NPM, ['install', '--no-audit', '--no-update-notifier', '--no-fund', '--save', '--save-prefix=~', '--omit=dev', '--engine-strict', '--', tarball], {
      cwd: userDir,
      maxBuffer: 64 * 1024 * 1024,
    });
  } finally {
    fs.rmSync(packDir, { recursive: true, force: true });
  }
}

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
    await installPacked(userDir);
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

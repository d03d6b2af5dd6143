#!/usr/bin/env node
// Starts Node-RED on 127.0.0.1 with this package, in a user dir under the project.
'use strict';
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const userDir = path.join(root, '.node-red-demo');
fs.mkdirSync(userDir, { recursive: true });
fs.writeFileSync(
  path.join(userDir, 'settings.js'),
  `module.exports = {
  uiHost: '127.0.0.1',
  uiPort: 1880,
  flowFile: 'flows.json',
  nodesDir: ${JSON.stringify(root)},
  telemetry: { enabled: false },
  editorTheme: { tours: false, palette: { catalogues: [] } },
};
`,
);
const red = spawn(process.execPath, [require.resolve('node-red/red.js'), '--userDir', userDir, '--settings', path.join(userDir, 'settings.js')], { stdio: 'inherit' });
const stop = () => red.kill('SIGINT');
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
red.on('exit', (code) => process.exit(code ?? 0));

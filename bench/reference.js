'use strict';
// node-red-node-email, the node we compare against, installed on first use into bench/.reference
// (git-ignored). It is no devDependency: its bundled dependencies do not match their own ranges,
// which makes `npm ci` refuse the lock file.
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const VERSION = '5.2.5';
const prefix = path.join(__dirname, '.reference');
const moduleDir = path.join(prefix, 'node_modules', 'node-red-node-email');

/** Installs node-red-node-email once; returns its folder. */
function emailNodeModule() {
  const installed =
    fs.existsSync(path.join(moduleDir, 'package.json')) && require(path.join(moduleDir, 'package.json')).version === VERSION;
  if (!installed) {
    fs.mkdirSync(prefix, { recursive: true });
    fs.writeFileSync(path.join(prefix, 'package.json'), JSON.stringify({ name: 'bench-reference', private: true }));
    console.error(`  installing node-red-node-email@${VERSION} into bench/.reference (once)…`);
    execFileSync(
      process.platform === 'win32' ? 'npm.cmd' : 'npm',
      ['install', '--no-audit', '--no-fund', '--no-save', `node-red-node-email@${VERSION}`],
      { cwd: prefix, stdio: ['ignore', 'ignore', 'inherit'] },
    );
  }
  return moduleDir;
}

module.exports = { emailNodeModule, VERSION };

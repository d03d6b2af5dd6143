#!/usr/bin/env node
// Compiles the TypeScript sources and places each node's editor HTML and locales beside its
// compiled .js: Node-RED looks for them only in the folder of the node's .js file.
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const dist = path.join(root, 'dist');
fs.rmSync(dist, { recursive: true, force: true });
try {
  execFileSync(process.execPath, [path.join(path.dirname(require.resolve('typescript/package.json')), 'bin', 'tsc'), '-p', root], { stdio: 'inherit' });
} catch {
  process.exit(1); // tsc printed the type errors
}

const nodesDir = path.join(root, 'src', 'nodes');
const localesDir = path.join(root, 'locales');
for (const node of fs.readdirSync(nodesDir)) {
  const out = path.join(dist, 'nodes', node);
  fs.copyFileSync(path.join(nodesDir, node, `${node}.html`), path.join(out, `${node}.html`));
  for (const lang of fs.readdirSync(localesDir)) {
    for (const ext of ['json', 'html']) {
      const file = path.join(localesDir, lang, `${node}.${ext}`);
      if (!fs.existsSync(file)) continue;
      fs.mkdirSync(path.join(out, 'locales', lang), { recursive: true });
      fs.copyFileSync(file, path.join(out, 'locales', lang, `${node}.${ext}`));
    }
  }
}

// The rich-text editor of the send dialog: Node-RED serves the package's top-level resources/ at
// resources/<package name>/, and the dialog loads these files from there on demand.
const resources = path.join(root, 'resources');
const quillDist = path.join(path.dirname(require.resolve('quill/package.json')), 'dist');
fs.mkdirSync(resources, { recursive: true });
fs.copyFileSync(path.join(quillDist, 'quill.js'), path.join(resources, 'quill.min.js'));
fs.copyFileSync(path.join(quillDist, 'quill.snow.css'), path.join(resources, 'quill.snow.css'));
fs.copyFileSync(path.join(path.dirname(quillDist), 'LICENSE'), path.join(resources, 'quill.LICENSE.txt'));

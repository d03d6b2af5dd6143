#!/usr/bin/env node
// Compiles the TypeScript sources and writes each node's editor HTML and locales beside its
// compiled .js: Node-RED looks for them only in the folder of the node's .js file.
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const dist = path.join(root, 'dist');
const tsc = path.join(path.dirname(require.resolve('typescript/package.json')), 'bin', 'tsc');
/** Where tsc leaves the editor code as CommonJS modules, until they are linked into the .html files. */
const editorOut = path.join(dist, '.editor');

fs.rmSync(dist, { recursive: true, force: true });
try {
  execFileSync(process.execPath, [tsc, '-p', root], { stdio: 'inherit' });
  execFileSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.editor.json'), '--outDir', editorOut], { stdio: 'inherit' });
} catch {
  process.exit(1); // tsc printed the type errors
}

/**
 * Links the CommonJS modules that tsc wrote for one editor entry into one browser script: each
 * module becomes a function in a table, and `require` of a relative path runs it once. tsc keeps
 * the source text of each module, so the literal `RED.nodes.registerType('<type>', {...})` call
 * that the Flow Library reads stays as written. Only relative requires are allowed: the editor
 * code has no dependency but Node-RED's globals (RED, $) and the Quill it loads itself.
 */
function linkEditor(entry) {
  const modules = new Map();
  const visit = (id) => {
    if (modules.has(id)) return;
    const code = fs.readFileSync(path.join(editorOut, id), 'utf8');
    const requires = {};
    modules.set(id, { code, requires });
    for (const [, spec] of code.matchAll(/\brequire\("([^"]+)"\)/g)) {
      if (!spec.startsWith('.')) throw new Error(`${id}: the editor code may only require its own modules, not "${spec}"`);
      requires[spec] = path.posix.join(path.posix.dirname(id), `${spec}.js`);
      visit(requires[spec]);
    }
  };
  visit(entry);
  const table = [...modules].map(
    ([id, m]) => `${JSON.stringify(id)}: [function (module, exports, require) {\n${m.code.trim()}\n}, ${JSON.stringify(m.requires)}]`,
  );
  return `(function () {
  'use strict';
  var modules = {
${table.join(',\n')}
  };
  var loaded = {};
  function load(id) {
    if (!loaded[id]) {
      var module = (loaded[id] = { exports: {} });
      modules[id][0](module, module.exports, function (spec) {
        return load(modules[id][1][spec]);
      });
    }
    return loaded[id].exports;
  }
  load(${JSON.stringify(entry)});
})();`;
}

/** The linked script, checked: a `</script` inside it would end the <script> element early. */
function editorScript(entry) {
  const script = linkEditor(entry);
  if (/<\/script/i.test(script)) throw new Error(`${entry}: the editor code contains "</script", which would cut the <script> element`);
  return script;
}

// Each node's .html: the linked editor script, the shared and the node's own stylesheet, and the
// dialog's template under the node's type (its folder's name), all from src/editor/ and
// src/nodes/<node>/editor.{ts,css,html}.
const read = (...parts) => fs.readFileSync(path.join(root, 'src', ...parts), 'utf8').trim();
const nodesDir = path.join(root, 'src', 'nodes');
const localesDir = path.join(root, 'locales');
for (const node of fs.readdirSync(nodesDir)) {
  const out = path.join(dist, 'nodes', node);
  const css = [read('editor', 'dialog.css'), read('nodes', node, 'editor.css')].join('\n\n');
  const html = [
    `<script type="text/javascript">\n${editorScript(`nodes/${node}/editor.js`)}\n</script>`,
    `<style>\n${css}\n</style>`,
    `<script type="text/html" data-template-name="${node}">\n${read('nodes', node, 'editor.html')}\n</script>`,
  ].join('\n\n');
  fs.writeFileSync(path.join(out, `${node}.html`), `${html}\n`);
  for (const lang of fs.readdirSync(localesDir)) {
    for (const ext of ['json', 'html']) {
      const file = path.join(localesDir, lang, `${node}.${ext}`);
      if (!fs.existsSync(file)) continue;
      fs.mkdirSync(path.join(out, 'locales', lang), { recursive: true });
      fs.copyFileSync(file, path.join(out, 'locales', lang, `${node}.${ext}`));
    }
  }
}
fs.rmSync(editorOut, { recursive: true, force: true });

// The rich-text editor of the send dialog: Node-RED serves the package's top-level resources/ at
// resources/<package name>/, and the dialog loads these files from there on demand.
const resources = path.join(root, 'resources');
const quillDist = path.join(path.dirname(require.resolve('quill/package.json')), 'dist');
fs.mkdirSync(resources, { recursive: true });
fs.copyFileSync(path.join(quillDist, 'quill.js'), path.join(resources, 'quill.min.js'));
fs.copyFileSync(path.join(quillDist, 'quill.snow.css'), path.join(resources, 'quill.snow.css'));
fs.copyFileSync(path.join(path.dirname(quillDist), 'LICENSE'), path.join(resources, 'quill.LICENSE.txt'));

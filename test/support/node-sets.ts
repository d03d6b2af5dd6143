// What Node-RED's GET /nodes (Accept: application/json) says of this package: the checks the tests
// of an installed package share, whichever Node-RED they run.
import assert from 'node:assert/strict';
import { pkg } from '../../scripts/install-package';

/** A node set of GET /nodes (Accept: application/json). */
export interface NodeSet {
  id: string;
  module: string;
  types: string[];
  enabled: boolean;
  err?: string;
  version: string;
}

/**
 * Asserts that Node-RED's answer to GET /nodes (Accept: application/json) lists both node types of
 * this package and no other of it; resolves with the package's node sets.
 */
export async function assertBothNodeTypes(res: Response): Promise<NodeSet[]> {
  const sets = ((await res.json()) as NodeSet[]).filter((s) => s.module === pkg.name);
  assert.deepEqual(
    sets
      .map((s) => s.types)
      .flat()
      .sort(),
    ['send-smtp-email', 'smtp-oauth-config'],
  );
  return sets;
}

/** Asserts that each node set is enabled, loaded without error, and of the version in package.json. */
export function assertLoaded(sets: NodeSet[]): void {
  for (const set of sets) {
    assert.equal(set.enabled, true, `${set.id} is enabled`);
    assert.equal(set.err, undefined, `${set.id} loaded without error`);
    assert.equal(set.version, pkg.version);
  }
}

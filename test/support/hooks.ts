// Root hooks for every test: an unhandled rejection fails the test it happened in, so no failure
// path can slip past unnoticed. It is reported through the hook's error() (mocha then fails the
// current test) rather than thrown: a throwing root-level hook makes mocha abort the whole run.
import type { Context, RootHookObject } from 'mocha';

const problems: unknown[] = [];
process.on('unhandledRejection', (reason) => problems.push(reason));

export const mochaHooks: RootHookObject = {
  afterEach(this: Context) {
    if (!problems.length) return;
    const found = problems.splice(0);
    const text = found.map((p) => (p instanceof Error && p.stack) || String(p)).join('\n');
    // Runnable#error is mocha's (lib/runnable.js) but missing from @types/mocha.
    (this.test as Mocha.Runnable & { error(err: Error): void }).error(new Error(`unhandled rejection during the test: ${text}`));
  },
};

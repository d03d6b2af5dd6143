'use strict';
// Root hooks for every test: an unhandled rejection fails the test it happened in, so no failure
// path can slip past unnoticed. It is reported through the hook's error() (mocha then fails the
// current test) rather than thrown: a throwing root-level hook makes mocha abort the whole run.
const problems = [];
process.on('unhandledRejection', (reason) => problems.push(reason));

exports.mochaHooks = {
  afterEach() {
    if (!problems.length) return;
    const found = problems.splice(0);
    this.test.error(new Error(`unhandled rejection during the test: ${found.map((p) => (p && p.stack) || p).join('\n')}`));
  },
};

'use strict';
// Root hooks for every test: an unhandled rejection or uncaught exception fails the test it
// happened in, so no failure path can slip past unnoticed.
const problems = [];
process.on('unhandledRejection', (reason) => problems.push(reason));

exports.mochaHooks = {
  afterEach() {
    if (problems.length) {
      const found = problems.splice(0);
      throw new Error(`unhandled rejection during the test: ${found.map((p) => (p && p.stack) || p).join('\n')}`);
    }
  },
};

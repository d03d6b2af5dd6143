'use strict';
const { fork } = require('node:child_process');
const path = require('node:path');

/** Forks the SMTP sink (or another sink script); resolves with { port, stats(), reset(), call(msg), close() }. */
function startSink(script = path.join(__dirname, 'sink.js')) {
  return new Promise((resolve, reject) => {
    const child = fork(script, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let seq = 0;
    const waiting = new Map();
    child.once('error', reject);
    child.on('message', (m) => {
      if (m.port) {
        resolve({
          port: m.port,
          stats: () => call({ cmd: 'stats' }).then((r) => r.stats),
          reset: () => call({ cmd: 'reset' }),
          call,
          close: () =>
            new Promise((res) => {
              if (child.exitCode !== null) return res();
              child.once('exit', res);
              child.disconnect();
            }),
        });
      } else if (waiting.has(m.id)) {
        waiting.get(m.id)(m);
        waiting.delete(m.id);
      }
    });
    function call(msg) {
      return new Promise((res) => {
        const id = ++seq;
        waiting.set(id, res);
        child.send({ ...msg, id });
      });
    }
  });
}

/**
 * Runs `total` jobs with at most `inFlight` at a time; start(i) returns a promise.
 * Resolves with the elapsed ms; rejects on the first failure.
 */
function pump(total, inFlight, start) {
  return new Promise((resolve, reject) => {
    let started = 0;
    let finished = 0;
    let failed = false;
    const t0 = performance.now();
    const next = () => {
      if (failed) return;
      if (finished === total) return resolve(performance.now() - t0);
      while (started < total && started - finished < inFlight) {
        const i = started++;
        start(i).then(
          () => {
            finished++;
            next();
          },
          (err) => {
            failed = true;
            reject(err);
          },
        );
      }
    };
    next();
  });
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const mb = (bytes) => (bytes / 1024 / 1024).toFixed(1);

/** Prints rows as a Markdown table. */
function table(header, rows) {
  const lines = [header, header.map(() => '---'), ...rows];
  return lines.map((r) => `| ${r.join(' | ')} |`).join('\n');
}

module.exports = { startSink, pump, median, mb, table };

'use strict';
// The SMTP sink of the `limits` section, shaped like Exchange Online's SMTP AUTH submission: XOAUTH2
// only, at most 3 authenticated sessions per mailbox, and the next AUTH answered with Exchange's 432
// (text from the test fixtures). Like sink.js it counts instead of parsing and runs as a child
// process, so its CPU time does not count against the sender.
// IPC: sends { port } when listening; answers { cmd: 'stats' }, { cmd: 'reset' } and { cmd: 'idle' }
// (once no session is open).
const { SMTPServer } = require('smtp-server');
const providers = require('../test/fixtures/provider-responses.json');

const LIMIT = 3;
const CONCURRENCY = providers.smtp.find((r) => r.response.startsWith('432 4.3.2')).response;

let stats = fresh();
function fresh() {
  return { connections: 0, messages: 0, refusals: 0, peakSessions: 0, logins: 0 };
}
const sessions = new Map(); // mailbox -> Set of session ids
/** Ids of 'idle' requests waiting until no session is open (the previous deploy's pool has gone). */
let idleWaiters = [];
const openSessions = () => [...sessions.values()].reduce((n, s) => n + s.size, 0);

const server = new SMTPServer({
  disabledCommands: ['STARTTLS'],
  hideSTARTTLS: true,
  authMethods: ['XOAUTH2'],
  allowInsecureAuth: true,
  logger: false,
  onConnect(session, cb) {
    stats.connections++;
    cb();
  },
  onAuth(auth, session, cb) {
    const user = auth.username.toLowerCase();
    if (!sessions.has(user)) sessions.set(user, new Set());
    const held = sessions.get(user);
    if (held.size >= LIMIT) {
      stats.refusals++;
      const err = new Error(CONCURRENCY.slice(4));
      err.responseCode = 432;
      return cb(err);
    }
    held.add(session.id);
    stats.logins++;
    stats.peakSessions = Math.max(stats.peakSessions, held.size);
    cb(null, { user });
  },
  onClose(session) {
    if (session.user) sessions.get(session.user)?.delete(session.id);
    if (!openSessions()) for (const id of idleWaiters.splice(0)) process.send({ id, ok: true });
  },
  onData(stream, session, cb) {
    stream.on('data', () => {});
    stream.on('end', () => {
      stats.messages++;
      cb(null, 'Queued');
    });
  },
});
server.on('error', () => {}); // a client that resets its socket is not the sink's problem

server.listen(0, '127.0.0.1', () => process.send({ port: server.server.address().port }));
process.on('message', (m) => {
  if (m.cmd === 'stats') process.send({ id: m.id, stats: { ...stats, openSessions: openSessions() } });
  else if (m.cmd === 'idle') {
    if (openSessions()) idleWaiters.push(m.id);
    else process.send({ id: m.id, ok: true });
  } else if (m.cmd === 'reset') {
    stats = fresh();
    process.send({ id: m.id, ok: true });
  }
});
process.on('disconnect', () => process.exit(0));

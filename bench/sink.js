'use strict';
// A lean SMTP sink for the benchmark, run as a child process so that its CPU time does not count
// against the sender measured in the parent. It accepts every message and only counts it (no
// parsing): test/support/smtp.ts parses each mail with mailparser, far too slow to benchmark with.
// Like every smtp-server it waits 100 ms before the greeting of each connection, as real servers
// do; that is what makes a sender without a pool slow.
// IPC: sends { port } when listening; answers { cmd: 'stats' } and { cmd: 'reset' }.
const { SMTPServer } = require('smtp-server');

let stats = fresh();
function fresh() {
  return { connections: 0, messages: 0, bytes: 0, auths: {} };
}

const server = new SMTPServer({
  disabledCommands: ['STARTTLS'],
  hideSTARTTLS: true,
  authOptional: true,
  authMethods: ['PLAIN', 'LOGIN', 'XOAUTH2'],
  allowInsecureAuth: true,
  logger: false,
  onConnect(session, cb) {
    stats.connections++;
    cb();
  },
  onAuth(auth, session, cb) {
    // XOAUTH2: any token is accepted; the parent checks which ones were presented.
    const key = auth.method === 'XOAUTH2' ? auth.accessToken : auth.method;
    stats.auths[key] = (stats.auths[key] || 0) + 1;
    cb(null, { user: auth.username });
  },
  onData(stream, session, cb) {
    let bytes = 0;
    stream.on('data', (c) => (bytes += c.length));
    stream.on('end', () => {
      stats.messages++;
      stats.bytes += bytes;
      cb(null, 'Queued');
    });
  },
});
server.on('error', () => {}); // a client that resets its socket is not the sink's problem

server.listen(0, '127.0.0.1', () => process.send({ port: server.server.address().port }));
process.on('message', (m) => {
  if (m.cmd === 'stats') process.send({ id: m.id, stats });
  else if (m.cmd === 'reset') {
    stats = fresh();
    process.send({ id: m.id, ok: true });
  }
});
process.on('disconnect', () => process.exit(0));

'use strict';
// A real SMTP server on loopback that parses every message it accepts.
const { SMTPServer } = require('smtp-server');
const { simpleParser } = require('mailparser');

/** An error that smtp-server answers with exactly this response line ("535 5.7.139 …"). */
function smtpError(response) {
  const [, code, text] = /^(\d{3})[ -](.*)$/s.exec(response.split('\n').pop());
  const err = new Error(text);
  err.responseCode = Number(code);
  return err;
}

/**
 * Starts smtp-server on 127.0.0.1 with a free port.
 * - users: { name: password } for PLAIN/LOGIN
 * - tokens: a function (user, token) => true | 'challenge' | 'reject' for XOAUTH2
 * - onRcpt / onMailFrom: optional (address, session) => Error|undefined
 * - authError: the response to refused credentials, e.g. "535 5.7.139 …"
 * - onData: optional (parsed) => Error|undefined, to refuse a message after DATA
 * - holdAnswer: optional (answer) => void, to answer a stored message later, as a slow server does
 * - auth: false to accept mail without authentication
 * - onConnect: optional (session) => Error|undefined, to refuse a connection at the greeting
 * Returns { port, messages, waitForMessages(n), authAttempts, close() }.
 */
async function startSmtp(options = {}) {
  const messages = [];
  const authAttempts = [];
  const waiters = [];
  const settle = () => {
    for (const w of [...waiters]) {
      if (messages.length >= w.n) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(messages.slice(0, w.n));
      }
    }
  };
  const server = new SMTPServer({
    secure: !!options.secure,
    key: options.key,
    cert: options.cert,
    disabledCommands: options.auth === false ? ['AUTH', 'STARTTLS'] : options.secure || options.cert ? [] : ['STARTTLS'],
    authOptional: options.auth === false,
    authMethods: ['PLAIN', 'LOGIN', 'XOAUTH2'],
    allowInsecureAuth: true,
    hideSTARTTLS: !options.cert || !!options.secure,
    logger: false,
    size: options.size,
    onConnect(session, cb) {
      const err = options.onConnect && options.onConnect(session);
      cb(err || undefined);
    },
    onAuth(auth, session, cb) {
      authAttempts.push({ method: auth.method, username: auth.username, password: auth.password, accessToken: auth.accessToken });
      if (auth.method === 'XOAUTH2') {
        const verdict = options.tokens ? options.tokens(auth.username, auth.accessToken) : false;
        if (verdict === true) return cb(null, { user: auth.username });
        if (verdict === 'challenge') return cb(null, { data: { status: '401', schemes: 'bearer', scope: 'https://outlook.office365.com/.default' } });
        return cb(smtpError(options.authError || '535 Authentication unsuccessful'));
      }
      if (options.users && options.users[auth.username] === auth.password) return cb(null, { user: auth.username });
      return cb(smtpError(options.authError || '535 Authentication credentials invalid'));
    },
    onMailFrom(address, session, cb) {
      const err = options.onMailFrom && options.onMailFrom(address, session);
      cb(err || undefined);
    },
    onRcptTo(address, session, cb) {
      const err = options.onRcpt && options.onRcpt(address, session);
      cb(err || undefined);
    },
    onData(stream, session, cb) {
      const chunks = [];
      stream.on('data', (c) => chunks.push(c));
      stream.on('end', async () => {
        if (stream.sizeExceeded) {
          const err = new Error('Message size exceeds fixed maximum message size');
          err.responseCode = 552;
          return cb(err);
        }
        const raw = Buffer.concat(chunks);
        const parsed = await simpleParser(raw);
        const refused = options.onData && options.onData(parsed, session);
        if (refused) return cb(refused);
        messages.push({ raw: raw.toString('utf8'), parsed, envelope: session.envelope, user: session.user });
        const answer = () => cb(null, 'Queued as ' + messages.length);
        if (options.holdAnswer) options.holdAnswer(answer);
        else answer();
        settle();
      });
    },
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port || 0, '127.0.0.1', resolve);
  });
  return {
    server,
    port: server.server.address().port,
    messages,
    authAttempts,
    waitForMessages(n) {
      if (messages.length >= n) return Promise.resolve(messages.slice(0, n));
      return new Promise((resolve) => waiters.push({ n, resolve }));
    },
    close: () => new Promise((resolve) => server.close(resolve)),
    /** Goes away at once, as a crashed server would: listener closed, every connection cut. */
    destroy() {
      server.server.close();
      for (const connection of server.connections) connection._socket.destroy();
    },
  };
}

module.exports = { startSmtp, smtpError };

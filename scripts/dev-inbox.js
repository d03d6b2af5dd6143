'use strict';
// The development inbox of `npm start`: an SMTP server on loopback that keeps every message it
// receives in memory, and a web page that shows them (sender, recipients, subject, the HTML in a
// sandboxed frame, attachments to download). Built on smtp-server + mailparser, the same parts
// the tests use; for development only, never exposed beyond 127.0.0.1.
const http = require('node:http');
const { EventEmitter } = require('node:events');
const { SMTPServer } = require('smtp-server');
const { simpleParser } = require('mailparser');

const MAX_MESSAGES = 200;
const MAX_SIZE = 30 * 1024 * 1024;
const MAX_WAIT_MS = 30000;

/**
 * Starts the inbox. Ports 0 pick free ports. With a `password`, a client must log in with it (any
 * user name), so that a wrong login can be practised; without one, any client may deliver, with or
 * without a login.
 * Returns { smtpPort, httpPort, url, messages, events, close() }; `events` emits 'message'.
 */
async function startInbox({ host = '127.0.0.1', smtpPort = 1025, httpPort = 1080, password } = {}) {
  const messages = [];
  const events = new EventEmitter();
  let nextId = 1;

  const smtp = new SMTPServer({
    // Without a password any client may deliver, with or without AUTH (a basic-auth connection
    // works as well as "none"); with one, only after AUTH with it, and a wrong one gets the 535
    // real servers answer.
    authOptional: !password,
    allowInsecureAuth: true,
    onAuth: (auth, session, cb) => {
      if (password && auth.password !== password) {
        const err = new Error('Authentication credentials invalid');
        err.responseCode = 535;
        return cb(err);
      }
      cb(null, { user: auth.username || 'anonymous' });
    },
    disabledCommands: ['STARTTLS'],
    hideSTARTTLS: true,
    size: MAX_SIZE,
    logger: false,
    banner: 'Node-RED development inbox',
    onData(stream, session, cb) {
      const chunks = [];
      stream.on('data', (c) => chunks.push(c));
      stream.on('error', cb);
      stream.on('end', () => {
        if (stream.sizeExceeded) {
          const err = new Error('Message size exceeds the inbox limit');
          err.responseCode = 552;
          return cb(err);
        }
        const raw = Buffer.concat(chunks);
        simpleParser(raw).then(
          (parsed) => {
            const message = record(nextId++, raw, parsed, session.envelope);
            messages.unshift(message);
            messages.length = Math.min(messages.length, MAX_MESSAGES);
            cb(null, `Queued in the development inbox as #${message.id}`);
            events.emit('message', message);
          },
          (err) => cb(err),
        );
      });
    },
  });
  smtp.on('error', (err) => events.emit('error', err));

  const web = http.createServer((req, res) => {
    handle(req, res).catch((err) => send(res, 500, 'text/plain; charset=utf-8', String(err && err.message)));
  });

  async function handle(req, res) {
    const url = new URL(req.url, 'http://inbox');
    const parts = url.pathname.split('/').filter(Boolean);
    if (req.method === 'GET' && url.pathname === '/')
      return send(res, 200, 'text/html; charset=utf-8', PAGE, {
        'Content-Security-Policy':
          "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; frame-src 'self'; img-src 'self' data:",
      });
    if (url.pathname === '/favicon.ico') return send(res, 204, 'text/plain', '');
    if (parts[0] === 'api' && parts[1] === 'messages' && parts.length === 2) {
      if (req.method === 'DELETE') {
        messages.length = 0;
        events.emit('cleared');
        return sendJson(res, 200, { cleared: true });
      }
      if (req.method !== 'GET') return send(res, 405, 'text/plain', 'Method not allowed');
      // Long poll: ?since=<highest id the caller has>&wait=<ms> answers as soon as a newer message arrives.
      const since = Number(url.searchParams.get('since') || 0);
      const wait = Math.min(Number(url.searchParams.get('wait') || 0), MAX_WAIT_MS);
      if (wait > 0 && !(messages[0] && messages[0].id > since)) await newMessageOrTimeout(wait, req);
      return sendJson(res, 200, messages.map(summary));
    }
    const message = parts.length >= 2 && messages.find((m) => String(m.id) === parts[1]);
    if (req.method !== 'GET') return send(res, 405, 'text/plain', 'Method not allowed');
    if (parts[0] === 'api' && parts[1] === 'messages' && parts.length === 3) {
      const found = messages.find((m) => String(m.id) === parts[2]);
      if (!found) return sendJson(res, 404, { error: 'not found' });
      return sendJson(res, 200, {
        ...summary(found),
        html: found.parsed.html || null,
        text: found.parsed.text || null,
        headers: found.parsed.headerLines.map((h) => h.line),
      });
    }
    if (parts[0] === 'messages' && message) {
      if (parts[2] === 'html' && parts.length === 3) {
        // The mail's HTML is foreign content: no scripts, no requests, only inline styles and data: images.
        const body = message.parsed.html || `<pre>${escapeHtml(message.parsed.text || '')}</pre>`;
        return send(res, 200, 'text/html; charset=utf-8', body, {
          'Content-Security-Policy': "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:",
        });
      }
      if (parts[2] === 'source' && parts.length === 3) {
        return send(res, 200, 'message/rfc822', message.raw, { 'Content-Disposition': `attachment; filename="message-${message.id}.eml"` });
      }
      if (parts[2] === 'attachments' && parts.length === 4) {
        const attachment = message.parsed.attachments[Number(parts[3])];
        if (!attachment) return send(res, 404, 'text/plain', 'Not found');
        const filename = attachment.filename || `attachment-${parts[3]}`;
        return send(res, 200, attachment.contentType || 'application/octet-stream', attachment.content, {
          'Content-Disposition': `attachment; filename="${filename.replace(/[^\w.\- ]/g, '_')}"; filename*=UTF-8''${encodeURIComponent(filename)}`,
          'Content-Security-Policy': 'sandbox',
        });
      }
    }
    return send(res, 404, 'text/plain', 'Not found');
  }

  function newMessageOrTimeout(ms, req) {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        events.removeListener('message', done);
        events.removeListener('cleared', done);
        req.removeListener('close', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      events.on('message', done);
      events.on('cleared', done);
      req.on('close', done);
    });
  }

  await listen(smtp, smtpPort, host);
  try {
    await listen(web, httpPort, host);
  } catch (err) {
    await new Promise((resolve) => smtp.close(resolve));
    throw err;
  }
  const actualHttpPort = web.address().port;
  return {
    smtpPort: smtp.server.address().port,
    httpPort: actualHttpPort,
    url: `http://${host}:${actualHttpPort}/`,
    messages,
    events,
    async close() {
      web.closeAllConnections();
      await Promise.all([new Promise((resolve) => web.close(resolve)), new Promise((resolve) => smtp.close(resolve))]);
    },
  };
}

function listen(server, port, host) {
  return new Promise((resolve, reject) => {
    const target = server.server || server; // SMTPServer wraps a net.Server
    const onError = (err) => {
      target.removeListener('listening', onListening);
      reject(err);
    };
    const onListening = () => {
      target.removeListener('error', onError);
      resolve();
    };
    target.once('error', onError);
    target.once('listening', onListening);
    server.listen(port, host);
  });
}

function record(id, raw, parsed, envelope) {
  return { id, receivedAt: new Date().toISOString(), raw, parsed, envelope };
}

const addressList = (field) =>
  field
    ? (Array.isArray(field) ? field : [field]).flatMap((a) => a.value.map((v) => (v.name ? `${v.name} <${v.address}>` : v.address)))
    : [];

/** What the list shows of a message (JSON). */
function summary(m) {
  const p = m.parsed;
  return {
    id: m.id,
    receivedAt: m.receivedAt,
    messageId: p.messageId || null,
    from: addressList(p.from),
    to: addressList(p.to),
    cc: addressList(p.cc),
    replyTo: addressList(p.replyTo),
    subject: p.subject || '',
    priority: p.priority || 'normal',
    // The envelope shows who really received it, BCC included.
    envelope: { from: m.envelope.mailFrom ? m.envelope.mailFrom.address : '', to: m.envelope.rcptTo.map((r) => r.address) },
    hasHtml: !!p.html,
    attachments: p.attachments.map((a, index) => ({
      index,
      filename: a.filename || `attachment-${index}`,
      contentType: a.contentType,
      size: a.size,
      url: `/messages/${m.id}/attachments/${index}`,
    })),
    htmlUrl: `/messages/${m.id}/html`,
    sourceUrl: `/messages/${m.id}/source`,
  };
}

function send(res, status, type, body, headers = {}) {
  res.writeHead(status, { 'Content-Type': type, 'X-Content-Type-Options': 'nosniff', 'Cache-Control': 'no-store', ...headers });
  res.end(body);
}

function sendJson(res, status, value) {
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(value));
}

function escapeHtml(s) {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}

// The page: plain DOM, every value from a mail set as text, the mail's HTML only inside a sandboxed frame.
const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Development inbox</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{margin:0;font:14px/1.4 system-ui,sans-serif;color:#222;display:flex;height:100vh}
#list{width:34%;min-width:260px;border-right:1px solid #ddd;overflow:auto;background:#fafafa}
#list header{display:flex;justify-content:space-between;align-items:center;padding:10px 12px;border-bottom:1px solid #ddd;background:#8f0000;color:#fff}
#list header h1{font-size:16px;margin:0}
#list button{font:inherit}
.item{padding:8px 12px;border-bottom:1px solid #eee;cursor:pointer}
.item:hover,.item.active{background:#e8eef7}
.item .subject{font-weight:600}.item .meta{color:#666;font-size:12px;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
#detail{flex:1;display:flex;flex-direction:column;min-width:0}
#headers{padding:12px 16px;border-bottom:1px solid #ddd}
#headers h2{margin:0 0 6px;font-size:18px}
#headers dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 10px;margin:0}
#headers dt{color:#666}#headers dd{margin:0;word-break:break-all}
#body{flex:1;border:0;width:100%;background:#fff}
.empty{padding:24px;color:#666}
</style></head>
<body>
<section id="list"><header><h1>Development inbox</h1><button id="clear" type="button">Clear</button></header><div id="items"><p class="empty">No mail yet. Click the inject node of the demo flow in Node-RED.</p></div></section>
<section id="detail"><div id="headers"><p class="empty">Select a message.</p></div><iframe id="body" title="Message content" sandbox></iframe></section>
<script>
'use strict';
let messages = [];
let selected = null;
const $ = (id) => document.getElementById(id);
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  Object.assign(e, attrs || {});
  for (const c of children) e.append(c);
  return e;
}
function renderList() {
  const items = $('items');
  items.replaceChildren();
  if (!messages.length) { items.append(el('p', { className: 'empty', textContent: 'No mail yet. Click the inject node of the demo flow in Node-RED.' })); return; }
  for (const m of messages) {
    const item = el('div', { className: 'item' + (selected === m.id ? ' active' : ''), tabIndex: 0 },
      el('div', { className: 'subject', textContent: m.subject || '(no subject)' }),
      el('div', { className: 'meta', textContent: (m.from.join(', ') || m.envelope.from) + ' → ' + m.envelope.to.join(', ') }),
      el('div', { className: 'meta', textContent: new Date(m.receivedAt).toLocaleString() + (m.attachments.length ? ' · ' + m.attachments.length + (m.attachments.length > 1 ? ' attachments' : ' attachment') : '') }));
    item.onclick = () => { selected = m.id; renderList(); renderDetail(); };
    item.onkeydown = (e) => { if (e.key === 'Enter') item.onclick(); };
    items.append(item);
  }
}
function renderDetail() {
  const m = messages.find((x) => x.id === selected);
  const headers = $('headers');
  headers.replaceChildren();
  if (!m) { headers.append(el('p', { className: 'empty', textContent: 'Select a message.' })); $('body').removeAttribute('src'); return; }
  const dl = el('dl');
  const row = (k, v) => { if (v) dl.append(el('dt', { textContent: k }), el('dd', { textContent: v })); };
  row('From', m.from.join(', '));
  row('To', m.to.join(', '));
  row('CC', m.cc.join(', '));
  row('Reply-To', m.replyTo.join(', '));
  row('Envelope', m.envelope.from + ' → ' + m.envelope.to.join(', '));
  row('Priority', m.priority !== 'normal' ? m.priority : '');
  row('Received', new Date(m.receivedAt).toLocaleString());
  if (m.attachments.length) {
    const dd = el('dd');
    m.attachments.forEach((a, i) => { if (i) dd.append(', '); dd.append(el('a', { href: a.url, download: a.filename, textContent: a.filename + ' (' + a.contentType + ', ' + a.size + ' bytes)' })); });
    dl.append(el('dt', { textContent: 'Attachments' }), dd);
  }
  const src = el('dd'); src.append(el('a', { href: m.sourceUrl, textContent: 'download .eml' }));
  dl.append(el('dt', { textContent: 'Source' }), src);
  headers.append(el('h2', { textContent: m.subject || '(no subject)' }), dl);
  $('body').src = m.htmlUrl;
}
async function poll() {
  const since = messages.length ? messages[0].id : 0;
  try {
    const res = await fetch('/api/messages?wait=25000&since=' + since, { cache: 'no-store' });
    const list = await res.json();
    const changed = JSON.stringify(list.map((m) => m.id)) !== JSON.stringify(messages.map((m) => m.id));
    messages = list;
    if (changed) {
      if (!messages.some((m) => m.id === selected)) selected = messages.length ? messages[0].id : null;
      renderList(); renderDetail();
    }
    setTimeout(poll, 0);
  } catch (e) {
    setTimeout(poll, 2000); // the inbox stopped or restarts: try again calmly
  }
}
$('clear').onclick = async () => { await fetch('/api/messages', { method: 'DELETE' }); };
poll();
</script>
</body></html>`;

/** The inbox password from `--inbox-password <p>` or `--inbox-password=<p>`, else INBOX_PASSWORD; undefined for none. */
function inboxPassword(argv, env) {
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--inbox-password') return argv[i + 1] || undefined;
    if (argv[i].startsWith('--inbox-password=')) return argv[i].slice('--inbox-password='.length) || undefined;
  }
  return env.INBOX_PASSWORD || undefined;
}

/** How the inbox takes logins, as the start-up lines say it (never the password itself). */
const loginRule = (password) => (password ? 'login required: any user, the inbox password' : 'any or no login');

module.exports = { startInbox, inboxPassword, loginRule };

// `node scripts/dev-inbox.js` runs the inbox alone.
if (require.main === module) {
  const password = inboxPassword(process.argv.slice(2), process.env);
  startInbox({ smtpPort: Number(process.env.INBOX_SMTP_PORT || 1025), httpPort: Number(process.env.INBOX_PORT || 1080), password }).then(
    (inbox) => {
      console.log(`Development inbox: ${inbox.url} (SMTP on 127.0.0.1:${inbox.smtpPort}, no TLS, ${loginRule(password)})`);
      const stop = () => inbox.close().then(() => process.exit(0));
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    },
    (err) => {
      console.error(`Development inbox failed to start: ${err.message}`);
      process.exit(1);
    },
  );
}

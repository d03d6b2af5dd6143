'use strict';
// Starts Node-RED once, with or without this package installed (and, with it, a flow holding a
// connection and a send node), and reports the ms from process start to "flows started".
// The connection must not open a socket nor fetch a token at start: it is created on first send.
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { makeUserDir, baseSettings } = require('./runtime');

const withPackage = process.argv[2] === 'with';
const userDir = makeUserDir({ withPackage, withProbe: false });
const flows = withPackage
  ? [
      { id: 'tab', type: 'tab', label: 'start-up' },
      {
        id: 'conn',
        type: 'smtp-oauth-config',
        host: '127.0.0.1',
        port: '9',
        security: 'none',
        authType: 'oauth2-client-credentials',
        tokenUrl: 'http://127.0.0.1:9/token',
        scope: 'x',
      },
      { id: 'send', type: 'send-smtp-email', z: 'tab', x: 100, y: 100, connection: 'conn', to: 'to@example.com', toType: 'str', wires: [] },
    ]
  : [{ id: 'tab', type: 'tab', label: 'start-up' }];
fs.writeFileSync(path.join(userDir, 'flows.json'), JSON.stringify(flows));

const RED = require('node-red');
RED.init(http.createServer(), baseSettings(userDir));
RED.events.once('flows:started', async () => {
  const ms = performance.now();
  const sockets = process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap' || r === 'TCPConnectWrap').length;
  const types = RED.nodes
    .getNodeList()
    .map((n) => n.types)
    .flat();
  const cpu = process.cpuUsage();
  process.send({
    ms,
    cpuMs: (cpu.user + cpu.system) / 1000,
    sockets,
    loaded: types.includes('send-smtp-email') && types.includes('smtp-oauth-config'),
  });
  await RED.stop();
  fs.rmSync(userDir, { recursive: true, force: true });
  process.exit(0);
});
RED.start();

'use strict';
// Runs in a child process of the benchmark so that its RSS is this send alone: a started Node-RED
// with one send node sends one 50 MB attachment, taken from an http URL (streamed), a data: URL
// or a base64 string; reports the peak RSS growth over the RSS before the content existed.
// argv: mode (url | data | base64), sink port, url of the 50 MB file, url of a small file, the
// connection's outbox (disk, the default, or memory), and a file holding a DKIM key to sign with
// (none: unsigned).
const { startRuntime } = require('./runtime');
const { deployWithProbes, sendNodeFlow } = require('./throughput');

const fs = require('node:fs');

const [mode, port, bigUrl, smallUrl, outbox = 'disk', dkimKeyFile = ''] = process.argv.slice(2);
const SIZE = 50 * 1024 * 1024;

(async () => {
  const rt = await startRuntime();
  const sink = { port: Number(port) };
  const send =
    mode === 'base64'
      ? {
          attachmentType: 'base64',
          attachment: 'payload',
          attachmentValueType: 'msg',
          attachmentFilename: 'big.bin',
          attachmentFilenameType: 'str',
        }
      : {
          attachmentType: 'url',
          attachment: 'payload',
          attachmentValueType: 'msg',
          attachmentFilename: 'big.bin',
          attachmentFilenameType: 'str',
        };
  const dkim = dkimKeyFile ? { dkimDomain: 'example.com', dkimSelector: 'bench' } : {};
  const credentials = { user: 'bench@example.com', ...(dkimKeyFile ? { dkimPrivateKey: fs.readFileSync(dkimKeyFile, 'utf8') } : {}) };
  const flow = sendNodeFlow(sink, { connection: { maxAttachmentMB: '100', timeout: '120', outbox, ...dkim }, send, credentials });
  const driver = await deployWithProbes(rt, flow, {
    input: 'send',
    caughtScope: ['send'],
  });

  // Warm up the same code path with a small file, so that loading code is not counted.
  const small =
    mode === 'url'
      ? smallUrl
      : mode === 'data'
        ? 'data:application/octet-stream;base64,' + Buffer.alloc(1024, 7).toString('base64')
        : Buffer.alloc(1024, 7).toString('base64');
  await driver.send({ payload: small });
  await driver.send({ payload: small });
  global.gc?.();
  await new Promise((r) => setTimeout(r, 200));
  global.gc?.();

  const before = process.memoryUsage.rss();
  const maxRssBefore = process.resourceUsage().maxRSS * 1024;
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 2);
  const t0 = performance.now();
  let payload = bigUrl;
  if (mode !== 'url') {
    const base64 = Buffer.alloc(SIZE, 'benchmark-attachment-').toString('base64');
    payload = mode === 'data' ? 'data:application/octet-stream;base64,' + base64 : base64;
  }
  await driver.send({ payload });
  // eslint-disable-next-line no-useless-assignment -- drops the payload so that it can be collected before the peak is read
  payload = undefined;
  const ms = performance.now() - t0;
  clearInterval(sampler);
  const maxRssAfter = process.resourceUsage().maxRSS * 1024;
  // maxRSS is the peak of the whole process: it tells about this send only if it rose during it.
  if (maxRssAfter > maxRssBefore) peak = Math.max(peak, maxRssAfter);
  // What stays after a full GC: the peak above is mostly garbage not yet collected.
  global.gc?.();
  global.gc?.();
  process.send({
    mode,
    outbox,
    signed: !!dkimKeyFile,
    growth: peak - before,
    retained: process.memoryUsage.rss() - before,
    heapAfter: process.memoryUsage().heapUsed,
    ms,
  });
  await rt.stop();
  process.exit(0);
})().catch((err) => {
  process.send({ mode, error: String((err && err.stack) || err) });
  process.exit(1);
});

// A redis-server of the test's own on a free loopback port, with append-only persistence in a
// folder of its own (so a restart keeps the queue), stopped with the test. Never a shared one.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';

export interface RedisServer {
  port: number;
  /** redis://[:password@]127.0.0.1:port */
  url: string;
  /** Stops it (SIGTERM: append-only file flushed); the data stay for start(). */
  stop(): Promise<void>;
  /** Starts it again on the same port, with the same data. */
  start(): Promise<void>;
  /** Stops it and deletes its data. */
  close(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Resolves once the server answers PING (at most 10 s). */
async function answers(port: number, password?: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      let answer = '';
      // Any other answer (-LOADING while it reads its append-only file), a close or silence: ask again.
      socket.setTimeout(1000, () => socket.destroy());
      socket.once('close', () => resolve(answer.includes('PONG')));
      socket.once('connect', () => socket.write(`${password ? `AUTH ${password}\r\n` : ''}PING\r\n`));
      socket.on('data', (d) => {
        answer += d.toString();
        if (answer.includes('PONG') || answer.includes('-')) socket.destroy();
      });
      socket.on('error', () => socket.destroy());
    });
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`redis-server on port ${port} did not answer`);
}

export async function startRedis(options: { password?: string } = {}): Promise<RedisServer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'smtp-redis-'));
  const port = await freePort();
  let child: ChildProcess | undefined;
  const start = async () => {
    if (child && child.exitCode === null) return;
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'yes', '--dir', dir];
    args.push('--maxmemory-policy', 'noeviction');
    if (options.password) args.push('--requirepass', options.password);
    child = spawn('redis-server', args, { stdio: 'ignore' });
    await answers(port, options.password);
  };
  const stop = async () => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null) return;
    const exited = new Promise((resolve) => c.once('exit', resolve));
    c.kill('SIGTERM');
    await exited;
  };
  await start();
  const auth = options.password ? `:${encodeURIComponent(options.password)}@` : '';
  return {
    port,
    url: `redis://${auth}127.0.0.1:${port}`,
    stop,
    start,
    close: async () => {
      await stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

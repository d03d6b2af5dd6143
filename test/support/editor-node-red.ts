// The package as users get it: packed, installed into a fresh Node-RED user directory the way the
// palette manager installs it, and served by a real Node-RED on 127.0.0.1 for the browser tests.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildIfNeeded, installIntoUserDir } from '../../scripts/install-package';
import { freePort } from './node-red-process';

export { freePort };

/** A started Node-RED: its editor's URL and port, its user dir, what it printed so far, and stop(). */
export interface EditorNodeRed {
  url: string;
  port: number;
  userDir: string;
  output(): string;
  /** Resolves when what Node-RED prints after `from` characters of its output matches `pattern` (e.g. the "Started flows" of a deploy). */
  waitForOutput(pattern: RegExp, from: number): Promise<void>;
  /** Stops Node-RED (SIGTERM, waiting for its exit) and removes the user dir. */
  stop(): Promise<void>;
}

/**
 * Starts Node-RED (the devDependency) on 127.0.0.1 with the package built, packed and installed.
 * Resolves with { url, port, userDir, output(), stop() }.
 */
export async function startEditorNodeRed(): Promise<EditorNodeRed> {
  const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'smtp-editor-user-'));
  let child: ChildProcess | undefined;
  const stop = async (): Promise<void> => {
    const running = child;
    if (running && running.exitCode === null && running.signalCode === null) {
      const exited = new Promise((resolve) => running.once('exit', resolve));
      running.kill('SIGTERM');
      await exited;
    }
    fs.rmSync(userDir, { recursive: true, force: true });
  };
  try {
    // The tarball holds dist/: compiled from the sources first when they are newer (npm pack runs
    // with --ignore-scripts, so its prepack build does not run).
    buildIfNeeded();
    installIntoUserDir(userDir); // npm pack, then the palette manager's npm install arguments
    const port = await freePort();
    const settings = path.join(userDir, 'settings.js');
    fs.writeFileSync(
      settings,
      `module.exports = ${JSON.stringify(
        {
          uiHost: '127.0.0.1',
          uiPort: port,
          flowFile: 'flows.json',
          credentialSecret: 'editor-test-only',
          telemetry: { enabled: false },
          editorTheme: { tours: false, palette: { catalogues: [] }, projects: { enabled: false } },
          logging: { console: { level: 'info', metrics: false, audit: false } },
          externalModules: { palette: { allowInstall: false } },
          // A node setting the package registers: the dialog's default for new connections.
          smtpOauthConfigMaxAttachmentMB: 40,
        },
        null,
        2,
      )};\n`,
    );
    const redJs = path.join(path.dirname(require.resolve('node-red/package.json')), 'red.js');
    const started = spawn(process.execPath, [redJs, '--userDir', userDir, '--settings', settings], { stdio: ['ignore', 'pipe', 'pipe'] });
    child = started;
    let output = '';
    const waiters: { pattern: RegExp; from: number; resolve: () => void }[] = [];
    const ready = new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        if (/Started flows/.test(output)) resolve();
        for (const w of waiters.splice(0)) {
          if (w.pattern.test(output.slice(w.from))) w.resolve();
          else waiters.push(w);
        }
      };
      started.stdout.on('data', onData);
      started.stderr.on('data', onData);
      started.once('exit', (code, signal) =>
        reject(new Error(`Node-RED exited (${signal || code}) before it started:\n${output.slice(-3000)}`)),
      );
    });
    await ready;
    const waitForOutput = (pattern: RegExp, from: number) =>
      pattern.test(output.slice(from)) ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ pattern, from, resolve }));
    return { url: `http://127.0.0.1:${port}/`, port, userDir, output: () => output, waitForOutput, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

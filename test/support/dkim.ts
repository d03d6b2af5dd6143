// DKIM keys made fresh with openssl (as a user makes them), and mailauth's verdict on a message,
// with a resolver that answers the key's TXT record offline, as DNS would.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import workerThreads from 'node:worker_threads';

/**
 * mailauth 7.1 declares Node >= 22.19: its BIMI module loads undici 8, which calls
 * worker_threads.markAsUncloneable (Node 22.10) while it loads. DKIM verification uses neither;
 * on Node 20 a no-op lets the module load. Nothing of the package under test runs through it.
 */
const threads = workerThreads as { markAsUncloneable?: (value: object) => void };
threads.markAsUncloneable ??= () => undefined;
// eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded after the line above
const { authenticate } = require('mailauth') as typeof import('mailauth');

/** The keys DKIM signs with, and one it does not (EC P-256). */
export type KeyType = 'rsa' | 'ed25519' | 'ec';

/** A PEM private key (PKCS#8) made by openssl; RSA of `bits`. */
export function opensslKey(type: KeyType, bits = 2048): string {
  const args = {
    rsa: ['genpkey', '-algorithm', 'RSA', '-pkeyopt', `rsa_keygen_bits:${bits}`],
    ed25519: ['genpkey', '-algorithm', 'ED25519'],
    ec: ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'],
  }[type];
  return execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
}

/**
 * The TXT record's value computed apart from the code under test: openssl's public key as DER,
 * base64 (RSA: the SubjectPublicKeyInfo every provider publishes; Ed25519: its last 32 bytes, the
 * bare key of RFC 8463).
 */
export function opensslRecord(pem: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dkim-key-'));
  try {
    const file = path.join(dir, 'key.pem');
    fs.writeFileSync(file, pem, { mode: 0o600 });
    const der = execFileSync('openssl', ['pkey', '-in', file, '-pubout', '-outform', 'DER']);
    const ed25519 = /ED25519/.test(execFileSync('openssl', ['pkey', '-in', file, '-noout', '-text'], { encoding: 'utf8' }));
    return ed25519
      ? `v=DKIM1; k=ed25519; p=${der.subarray(der.length - 32).toString('base64')}`
      : `v=DKIM1; k=rsa; p=${der.toString('base64')}`;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The entries of `dir` once it is empty (or after 10,000 turns of the event loop): nodemailer unlinks its signing cache in a callback after the message was read. */
export async function emptied(dir: string): Promise<string[]> {
  for (let turn = 0; turn < 10000 && fs.readdirSync(dir).length; turn++) await new Promise((r) => setImmediate(r));
  return fs.readdirSync(dir);
}

/** One DKIM signature as mailauth judged it. */
export interface Verdict {
  result: string;
  domain: string;
  selector: string;
  algorithm: string;
  /** The signed header fields, as mailauth 7.1 gives them: a string ("from:to:subject"). */
  signedHeaders: string;
  comment?: string;
}

/** mailauth's DKIM verdicts on `eml`, DNS holding `records` (name -> TXT value) and nothing else. */
export async function verifyDkim(eml: string | Buffer, records: Record<string, string>): Promise<Verdict[]> {
  const resolver = async (name: string, type: string) => {
    if (type === 'TXT' && Object.prototype.hasOwnProperty.call(records, name)) return [[records[name]]];
    throw Object.assign(new Error(`no ${type} record for ${name}`), { code: 'ENOTFOUND' });
  };
  const res = await authenticate(Buffer.isBuffer(eml) ? eml : Buffer.from(eml, 'utf8'), {
    resolver,
    ip: '127.0.0.1',
    helo: 'mailer.example.com',
    sender: 'sender@example.com',
    // RFC 8601 as written: a body changed on the way is dkim=fail (the lenient default says neutral), and the signature's syntax is checked.
    strict: true,
  } as Parameters<typeof authenticate>[1]);
  type Result = {
    status: { result: string; comment?: string };
    signingDomain: string;
    selector: string;
    algo: string;
    signingHeaders?: { keys?: string };
  };
  return (res.dkim.results as unknown as Result[]).map((r) => ({
    result: r.status.result,
    domain: r.signingDomain,
    selector: r.selector,
    algorithm: r.algo,
    signedHeaders: String(r.signingHeaders?.keys ?? ''),
    comment: r.status.comment,
  }));
}

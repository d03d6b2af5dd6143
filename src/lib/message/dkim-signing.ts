import crypto from 'node:crypto';
import fs, { promises as fsp } from 'node:fs';
import path from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import type DKIM from 'nodemailer/lib/dkim';
import MessageParser from 'nodemailer/lib/dkim/message-parser';
import RelaxedBody from 'nodemailer/lib/dkim/relaxed-body';
import sign from 'nodemailer/lib/dkim/sign';
import { foldLines } from 'nodemailer/lib/mime-funcs';
import type { DkimSettings } from './dkim-key';

/** How a built message is signed: by nodemailer (its `dkim` message option), or by a step after it. */
export interface MessageSigning {
  /** nodemailer's own DKIM signer: RSA. */
  dkim?: DKIM.Options;
  /** Signs the built message as it streams: Ed25519, which nodemailer does not sign. */
  sign?(message: Readable): Readable;
}

/**
 * Bytes of a message body kept in memory while it is signed. A signature goes before the headers
 * and covers the whole body, so the body waits until its hash is known: beyond this it waits in a
 * file of the connection's cache folder, and a 20 MB mail is not held twice in memory.
 */
export const SIGNING_MEMORY = 256 * 1024;

/**
 * The header fields signed, by RSA and Ed25519 signatures alike: nodemailer's list (RFC 4871
 * section 5.5 and the List-* fields) and List-Unsubscribe-Post, which one-click unsubscribe needs
 * signed (RFC 8058 section 4).
 */
const SIGNED_FIELDS =
  'From:Sender:Reply-To:Subject:Date:Message-ID:To:Cc:MIME-Version:Content-Type:Content-Transfer-Encoding:Content-ID:' +
  'Content-Description:Resent-Date:Resent-From:Resent-Sender:Resent-To:Resent-Cc:Resent-Message-ID:In-Reply-To:References:' +
  'List-Id:List-Help:List-Unsubscribe:List-Subscribe:List-Post:List-Owner:List-Archive:List-Unsubscribe-Post';

/** Where a connection's signer keeps the bodies of large mails while it signs them. */
export interface SigningCache {
  /** The folder it makes its own folder in: the outbox's, or the system's temporary folder. */
  parent: string;
}

/**
 * A connection's DKIM signer: what every message it builds is signed with. Its cache folder is its
 * own (made in `parent` on first use, only the process's user may read it: it holds mail bodies)
 * and removed on close, so that two instances of a connection (a redeploy) never share one.
 */
export class DkimSigner {
  private folder?: Promise<string>;
  private closed = false;

  constructor(
    private readonly settings: DkimSettings,
    private readonly cache: SigningCache,
  ) {}

  /** The signing of one message: nodemailer's signer for RSA, ours for Ed25519. */
  async signing(): Promise<MessageSigning> {
    const cacheDir = await (this.folder ??= this.makeFolder());
    const { domain, selector, key } = this.settings;
    if (key.type === 'rsa')
      return {
        dkim: {
          domainName: domain,
          keySelector: selector,
          privateKey: key.pem,
          // nodemailer's own list leaves out List-Unsubscribe-Post, which RFC 8058 requires to be signed.
          headerFieldNames: SIGNED_FIELDS,
          cacheDir,
          cacheTreshold: SIGNING_MEMORY,
        },
      };
    return { sign: (message) => signEd25519(message, { domain, selector, key: key.key, cacheDir }) };
  }

  private async makeFolder(): Promise<string> {
    await fsp.mkdir(this.cache.parent, { recursive: true, mode: 0o700 });
    return fsp.mkdtemp(path.join(this.cache.parent, 'smtp-dkim-'));
  }

  /** Removes the cache folder (a message being signed then fails, as a closing connection takes no new mail anyway). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const folder = await this.folder?.catch(() => undefined);
    if (folder) await fsp.rm(folder, { recursive: true, force: true }).catch(() => undefined);
  }
}

interface Ed25519Options {
  domain: string;
  selector: string;
  key: crypto.KeyObject;
  cacheDir: string;
  /** Bytes kept in memory before the body goes to the cache (tests lower it). */
  memory?: number;
}

/** Relaxed header canonicalization of one line (RFC 6376 section 3.4.2), as nodemailer's signer does it. */
const relaxedLine = (line: string) =>
  line
    .slice(line.indexOf(':') + 1)
    .replace(/\r?\n/g, '')
    .replace(/[ \t]+/g, ' ')
    .replace(/^ | $/g, '');

/**
 * The DKIM-Signature field of an ed25519-sha256 signature (RFC 8463): the same tags and
 * canonicalization (relaxed/relaxed) as nodemailer's RSA signature, and Ed25519 over the SHA-256
 * hash of the canonicalized header fields, as RFC 8463 section 3 says.
 */
export function ed25519Signature(
  headers: { key: string; line: string }[],
  bodyHash: string,
  o: Pick<Ed25519Options, 'domain' | 'selector' | 'key'>,
): string {
  const { headers: canonical, fieldNames } = sign.relaxedHeaders(headers, SIGNED_FIELDS);
  const tags = [
    'v=1',
    'a=ed25519-sha256',
    'c=relaxed/relaxed',
    `d=${o.domain}`,
    'q=dns/txt',
    `s=${o.selector}`,
    `bh=${bodyHash}`,
    `h=${fieldNames}`,
  ];
  const field = foldLines(`DKIM-Signature: ${tags.join('; ')}`, 76) + ';\r\n b=';
  // The header lines are 'binary' strings: latin1 gives back their bytes.
  const hash = crypto
    .createHash('sha256')
    .update(canonical + 'dkim-signature:' + relaxedLine(field), 'latin1')
    .digest();
  const signature = crypto.sign(null, hash, o.key).toString('base64');
  return field + signature.replace(/(^.{73}|.{75}(?!\r?\n|\r))/g, '$&\r\n ').trim();
}

/**
 * Signs a message as it streams (nodemailer's parser and relaxed body hash, our signature): the
 * body is kept in memory up to `memory` bytes, the rest in a file of `cacheDir`, removed once read.
 */
export function signEd25519(input: Readable, o: Ed25519Options): Readable {
  const output = new PassThrough();
  const parser = new MessageParser();
  const body = new RelaxedBody({ hashAlgo: 'sha256' });
  const memory = o.memory ?? SIGNING_MEMORY;
  let headers: { key: string; line: string }[] = [];
  let bodyHash = '';
  const chunks: Buffer[] = [];
  let size = 0;
  let cache: fs.WriteStream | undefined;
  const cachePath = path.join(o.cacheDir, `message-${crypto.randomUUID()}`);
  let failed = false;
  const dropCache = () => {
    if (cache) fs.unlink(cachePath, () => undefined);
  };
  const fail = (err: Error) => {
    if (failed) return;
    failed = true;
    input.unpipe();
    cache?.destroy();
    dropCache();
    output.destroy(err);
  };
  input.on('error', fail);
  parser.on('error', fail);
  body.on('error', fail);
  parser.on('headers', (h: { key: string; line: string }[]) => (headers = h));
  body.on('hash', (hash: string) => (bodyHash = hash));
  body.on('data', (chunk: Buffer) => {
    if (cache) {
      if (!cache.write(chunk)) {
        body.pause();
        cache.once('drain', () => body.resume());
      }
      return;
    }
    chunks.push(chunk);
    size += chunk.length;
    if (size < memory) return;
    cache = fs.createWriteStream(cachePath, { mode: 0o600, flags: 'wx' });
    cache.on('error', fail);
    for (const c of chunks.splice(0)) cache.write(c);
  });
  body.on('end', () => {
    if (failed) return;
    if (cache) cache.end(() => emit());
    else emit();
  });
  output.once('close', () => {
    // A reader that went away before the end: stop signing and drop the cache.
    if (!output.writableFinished) fail(new Error('closed'));
  });
  input.pipe(parser).pipe(body);

  function emit() {
    if (failed) return;
    let field: string;
    try {
      field = ed25519Signature(headers, bodyHash, o);
    } catch (e) {
      return fail(e as Error);
    }
    output.write(Buffer.from(field + '\r\n', 'latin1'));
    output.write(parser.rawHeaders || Buffer.alloc(0));
    if (!cache) {
      for (const c of chunks) output.write(c);
      output.end();
      return;
    }
    const stored = fs.createReadStream(cachePath);
    stored.on('error', fail);
    // Unlinked once open: the open file is read to its end, and nothing is left behind, not even by a crash.
    stored.once('open', dropCache);
    stored.pipe(output);
  }
  return output;
}

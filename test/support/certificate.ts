// Fresh certificates (openssl, a Debian package CI installs): a self-signed server certificate for
// 127.0.0.1, and client certificates as an Entra ID app registration holds them.
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** A private key and its certificate, PEM. */
export interface KeyAndCertificate {
  key: Buffer;
  cert: Buffer;
}

export function selfSignedCertificate(): KeyAndCertificate {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'smtp-cert-'));
  try {
    const key = path.join(dir, 'key.pem');
    const cert = path.join(dir, 'cert.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        key,
        '-out',
        cert,
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
      ],
      { stdio: 'ignore' },
    );
    return { key: fs.readFileSync(key), cert: fs.readFileSync(cert) };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** A client certificate as an app registration holds it, with its key as the connection does (PEM text). */
export interface ClientCertificate {
  cert: string;
  key: string;
}

/**
 * An RSA client certificate as Entra ID takes one: self-signed for `subject` ("mailer" or a whole
 * "/CN=…/O=…"), valid for `days` from now; -1 makes one that expired yesterday (openssl x509 takes
 * -1 as the one negative number of days). Its key is encrypted with `passphrase` when one is given
 * (PKCS#8, AES-256-CBC).
 */
export function clientCertificate({
  days = 365,
  passphrase,
  subject = 'mailer',
}: { days?: number; passphrase?: string; subject?: string } = {}): ClientCertificate {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'client-cert-'));
  try {
    const key = path.join(dir, 'key.pem');
    const csr = path.join(dir, 'req.csr');
    const cert = path.join(dir, 'cert.pem');
    const subj = subject.startsWith('/') ? subject : `/CN=${subject}`;
    execFileSync('openssl', ['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', csr, '-subj', subj], {
      stdio: 'ignore',
    });
    execFileSync('openssl', ['x509', '-req', '-in', csr, '-signkey', key, '-days', String(days), '-out', cert], { stdio: 'ignore' });
    const pem = fs.readFileSync(key, 'utf8');
    return {
      cert: fs.readFileSync(cert, 'utf8'),
      key: passphrase
        ? (crypto.createPrivateKey(pem).export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase }) as string)
        : pem,
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** A certificate's thumbprint as `openssl x509 -fingerprint` prints it, without the colons: what Entra's portal shows. */
export function opensslThumbprint(cert: string | Buffer, algorithm: 'sha1' | 'sha256'): string {
  const out = execFileSync('openssl', ['x509', '-noout', '-fingerprint', `-${algorithm}`], { input: cert }).toString();
  return out.trim().split('=')[1].replace(/:/g, '');
}

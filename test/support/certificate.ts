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
 * An RSA client certificate valid from now for `days` days (openssl), its key encrypted with
 * `passphrase` when one is given (PKCS#8, AES-256-CBC). Expiry is tested by moving the injected
 * clock, so no back-dated certificate is needed (OpenSSL 3.0 has no -not_before).
 */
export function clientCertificate({
  days = 365,
  passphrase,
  subject = 'mailer',
}: { days?: number; passphrase?: string; subject?: string } = {}): ClientCertificate {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'client-cert-'));
  try {
    const key = path.join(dir, 'key.pem');
    const cert = path.join(dir, 'cert.pem');
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', String(days), '-subj', `/CN=${subject}`],
      { stdio: 'ignore' },
    );
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

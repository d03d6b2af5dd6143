// A fresh self-signed certificate for 127.0.0.1 (openssl, a Debian package CI installs).
import { execFileSync } from 'node:child_process';
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

/**
 * A client certificate as Entra ID takes one: an RSA key and a self-signed certificate for
 * `subject`, valid for `days` from now; -1 makes one that expired yesterday (openssl x509 takes
 * -1 as the one negative number of days).
 */
export function clientCertificate({ subject = '/CN=mailer', days = 365 }: { subject?: string; days?: number } = {}): KeyAndCertificate {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'smtp-client-cert-'));
  try {
    const key = path.join(dir, 'key.pem');
    const csr = path.join(dir, 'req.csr');
    const cert = path.join(dir, 'cert.pem');
    execFileSync('openssl', ['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', csr, '-subj', subject], {
      stdio: 'ignore',
    });
    execFileSync('openssl', ['x509', '-req', '-in', csr, '-signkey', key, '-days', String(days), '-out', cert], { stdio: 'ignore' });
    return { key: fs.readFileSync(key), cert: fs.readFileSync(cert) };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** A certificate's thumbprint as `openssl x509 -fingerprint` prints it, without the colons: what Entra's portal shows. */
export function opensslThumbprint(cert: Buffer, algorithm: 'sha1' | 'sha256'): string {
  const out = execFileSync('openssl', ['x509', '-noout', '-fingerprint', `-${algorithm}`], { input: cert }).toString();
  return out.trim().split('=')[1].replace(/:/g, '');
}

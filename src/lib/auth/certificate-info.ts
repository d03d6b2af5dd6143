import crypto from 'node:crypto';

/** What the dialog shows of a certificate, and what a client assertion names it by. */
export interface CertificateInfo {
  /** The subject, as OpenSSL prints it ("CN=mailer"). */
  subject: string;
  /** SHA-1 thumbprint in upper-case hex without colons: what Entra's portal lists under Certificates. */
  sha1: string;
  /** SHA-256 thumbprint in upper-case hex: the one the assertion's `x5t#S256` carries (base64url). */
  sha256: string;
  /** `x5t#S256`: base64url of the SHA-256 digest of the DER certificate. */
  x5tS256: string;
  notBefore: Date;
  notAfter: Date;
}

/** The first certificate of a PEM text; throws (Node's own error, which quotes nothing secret) when there is none. */
export function certificateInfo(pem: string): CertificateInfo {
  const cert = new crypto.X509Certificate(pem);
  const hex = (algorithm: string) => crypto.createHash(algorithm).update(cert.raw).digest('hex').toUpperCase();
  return {
    subject: cert.subject.split('\n').join(', '),
    sha1: hex('sha1'),
    sha256: hex('sha256'),
    x5tS256: crypto.createHash('sha256').update(cert.raw).digest('base64url'),
    notBefore: new Date(cert.validFrom),
    notAfter: new Date(cert.validTo),
  };
}

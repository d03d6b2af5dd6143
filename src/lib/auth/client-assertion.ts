import crypto from 'node:crypto';
import { ErrorCodes, mailError, type MailError } from '../errors/errors';
import { text } from '../errors/texts';
import { certificateInfo, type CertificateInfo } from './certificate-info';

/** RFC 7523 §2.2: how the token request names a JWT that authenticates the client. */
export const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/**
 * Seconds an assertion is valid. Entra ID refuses one whose exp lies more than 10 minutes after
 * its nbf (AADSTS700024); each token request signs a new one, so it only has to outlive the request.
 */
export const ASSERTION_LIFETIME_S = 5 * 60;

/** RFC 7518 §3.5 (PS256): RSASSA-PSS with SHA-256, MGF1 with SHA-256, a salt as long as the hash. */
const PSS_SALT_LENGTH = 32;

/** What the connection holds for certificate credentials, and where the assertion goes. */
export interface AssertionInput {
  /** The token URL: the assertion's audience (Entra ID: AADSTS700023 for any other). */
  tokenUrl: string;
  /** The application (client) ID: issuer and subject. */
  clientId: string;
  /** The certificate registered with the app, PEM. */
  certificate: string;
  /** Its private key, PEM (PKCS#8 or PKCS#1), possibly encrypted. */
  privateKey: string;
  /** The key's passphrase, when the PEM is encrypted. */
  passphrase?: string;
}

export interface AssertionOptions {
  /** The clock (epoch ms), injectable so tests move time without sleeping. */
  now?: () => number;
}

/** Signs client assertions with one certificate's key; the key itself stays inside. */
export interface AssertionSigner {
  /** The certificate whose key signs: its thumbprints, for messages, and its validity, for the expiry checks. */
  readonly certificate: CertificateInfo;
  /**
   * A freshly signed assertion (RFC 7523 private_key_jwt): its own jti and nbf = iat = now. Called
   * once per token request: Entra ID refuses a jti it has already seen. A credential: never logged.
   */
  assertion(): string;
}

const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/**
 * Reads the certificate and its key once and checks that they belong together, so that a wrong
 * pair is said as what it is (ECONFIG, with what to paste) and not as Entra ID's AADSTS700027 at
 * every send. No error quotes the key or the passphrase: Node's OpenSSL errors are not passed on.
 */
export function assertionSigner(input: AssertionInput, options: AssertionOptions = {}): AssertionSigner {
  const now = options.now ?? Date.now;
  const certificate = readCertificate(input.certificate);
  const key = readPrivateKey(input.privateKey, input.passphrase);
  // PS256 is RSA only, and Entra ID takes only RSA certificates for client credentials.
  if (key.asymmetricKeyType !== 'rsa' && key.asymmetricKeyType !== 'rsa-pss')
    throw invalid('notRsa', { type: String(key.asymmetricKeyType) });
  const spki = (k: crypto.KeyObject) => k.export({ type: 'spki', format: 'der' });
  if (!spki(crypto.createPublicKey(key)).equals(spki(new crypto.X509Certificate(input.certificate).publicKey)))
    throw invalid('keyMismatch', { thumbprint: certificate.sha1 });
  const header = base64url({ alg: 'PS256', typ: 'JWT', 'x5t#S256': certificate.x5tS256 });
  return {
    certificate,
    assertion() {
      const issuedAt = Math.floor(now() / 1000);
      const claims = {
        aud: input.tokenUrl,
        iss: input.clientId,
        sub: input.clientId,
        jti: crypto.randomUUID(),
        nbf: issuedAt,
        iat: issuedAt,
        exp: issuedAt + ASSERTION_LIFETIME_S,
      };
      const signingInput = `${header}.${base64url(claims)}`;
      const signature = crypto.sign('sha256', Buffer.from(signingInput), {
        key,
        padding: crypto.constants.RSA_PKCS1_PSS_PADDING,
        saltLength: PSS_SALT_LENGTH,
      });
      return `${signingInput}.${signature.toString('base64url')}`;
    },
  };
}

function readCertificate(pem: string): CertificateInfo {
  if (!pem.trim()) throw invalid('noCertificate');
  try {
    return certificateInfo(pem);
  } catch {
    throw invalid('badCertificate');
  }
}

function readPrivateKey(pem: string, passphrase: string | undefined): crypto.KeyObject {
  if (!pem.trim()) throw invalid('noKey');
  // PKCS#8 "ENCRYPTED PRIVATE KEY", or the traditional "Proc-Type: 4,ENCRYPTED" of PKCS#1.
  const encrypted = /-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type:\s*4,\s*ENCRYPTED/.test(pem);
  if (encrypted && !passphrase) throw invalid('passphraseNeeded');
  try {
    return crypto.createPrivateKey(passphrase ? { key: pem, format: 'pem', passphrase } : { key: pem, format: 'pem' });
  } catch {
    throw invalid(encrypted ? 'passphraseWrong' : 'badKey');
  }
}

/** A configuration error of the certificate credentials: `errors.certificate.<what>` with `hints.certificate.<what>`. */
function invalid(what: string, params?: Record<string, string>): MailError {
  return mailError(ErrorCodes.ECONFIG, text(`errors.certificate.${what}`, params), text(`hints.certificate.${what}`, params));
}

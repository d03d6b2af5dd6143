import crypto from 'node:crypto';
import { domainToASCII } from 'node:url';
import { ErrorCodes, mailError, type MailError } from '../errors/errors';
import { text, type Params } from '../errors/texts';
import { isPrivateKey, pemBlocks, pemText } from '../../shared/pem';

/** The key types DKIM knows: rsa (RFC 6376, rsa-sha256) and ed25519 (RFC 8463, ed25519-sha256). */
export type DkimKeyType = 'rsa' | 'ed25519';

/** A checked DKIM signing key. */
export interface DkimKey {
  type: DkimKeyType;
  /** RSA: the modulus length. */
  bits?: number;
  /** The key as PEM with its line breaks (a password field may have dropped them). */
  pem: string;
  key: crypto.KeyObject;
}

/** What a connection signs with: its domain (d=), its selector (s=) and its key. */
export interface DkimSettings {
  domain: string;
  selector: string;
  key: DkimKey;
}

/**
 * RFC 8301 section 3.2: verifiers must not accept RSA keys under 1024 bits (mailauth and Gmail
 * fail them); 2048 is what providers generate and recommend.
 */
export const MIN_RSA_BITS = 1024;
export const RECOMMENDED_RSA_BITS = 2048;

const refused = (message: string, hint: string, params?: Params): MailError =>
  mailError(ErrorCodes.ECONFIG, text(`errors.config.${message}`, params), text(`hints.config.${hint}`, params));

/**
 * Reads the DKIM private key: a PEM RSA key (PKCS#8 `PRIVATE KEY` or PKCS#1 `RSA PRIVATE KEY`) of
 * at least 1024 bits, or a PEM Ed25519 key. Anything else is refused with ECONFIG and a hint; no
 * error quotes the key or the parser's words about it.
 */
export function readDkimKey(pem: string | undefined): DkimKey {
  const block = pemBlocks(String(pem ?? '')).find(isPrivateKey);
  if (!block) throw refused('dkimKeyNotPem', 'dkimKey');
  if (block.label === 'ENCRYPTED PRIVATE KEY' || /Proc-Type:\s*4,ENCRYPTED/.test(block.text))
    throw refused('dkimKeyEncrypted', 'dkimKeyEncrypted');
  const normalized = pemText(block.text);
  let key: crypto.KeyObject;
  try {
    key = crypto.createPrivateKey({ key: normalized, format: 'pem' });
  } catch {
    throw refused('dkimKeyUnreadable', 'dkimKey');
  }
  const type = key.asymmetricKeyType;
  if (type === 'ed25519') return { type, pem: normalized, key };
  if (type !== 'rsa') throw refused('dkimKeyType', 'dkimKey', { type: String(type) });
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (bits < MIN_RSA_BITS) throw refused('dkimKeyShort', 'dkimKeyShort', { bits, min: MIN_RSA_BITS, recommended: RECOMMENDED_RSA_BITS });
  return { type, bits, pem: normalized, key };
}

/**
 * The value of the key's DNS TXT record (RFC 6376 section 3.6.1): `p=` is the public key as
 * base64 DER SubjectPublicKeyInfo for RSA (what every provider publishes), and the bare 32-byte key
 * for Ed25519 (RFC 8463 section 4).
 */
export function dkimRecordValue(key: DkimKey): string {
  const publicKey = crypto.createPublicKey(key.key);
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  // An Ed25519 SubjectPublicKeyInfo is a 12-byte prefix and the 32-byte key.
  const p = key.type === 'ed25519' ? spki.subarray(spki.length - 32) : spki;
  return `v=DKIM1; k=${key.type}; p=${p.toString('base64')}`;
}

/** Where the record is published: `{selector}._domainkey.{domain}`. */
export const dkimRecordName = (selector: string, domain: string): string => `${selector}._domainkey.${domain}`;

/** A selector: one or more DNS labels (RFC 6376 section 3.1), as providers name them (`s1`, `mail2026`, `google`). */
const SELECTOR = /^[A-Za-z0-9](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?)*$/;
/** A domain name with at least two labels, as DNS writes it (after punycode). */
const DOMAIN = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * What a connection signs with, from its settings and its `dkimPrivateKey` credential: undefined
 * when neither domain nor selector is set (a stored key alone signs nothing). Once either is set
 * the user asked for signed mail: a missing or bad part is refused (ECONFIG) rather than mail
 * going out unsigned, which a domain's DMARC policy may then reject.
 */
export function dkimSettings(
  domain: string | undefined,
  selector: string | undefined,
  privateKey: string | undefined,
): DkimSettings | undefined {
  const d = (domain ?? '').trim();
  const s = (selector ?? '').trim();
  if (!d && !s) return undefined;
  if (!d || !s || !privateKey?.trim()) {
    const missing = !d ? 'dkimDomain' : !s ? 'dkimSelector' : 'dkimPrivateKey';
    throw refused('dkimMissing', 'dkimMissing', { field: text(`fields.config.${missing}`) });
  }
  const ascii = domainToASCII(d.toLowerCase().replace(/\.$/, ''));
  if (!ascii || !DOMAIN.test(ascii)) throw refused('dkimDomain', 'dkimDomain', { domain: d.slice(0, 80) });
  if (!SELECTOR.test(s)) throw refused('dkimSelector', 'dkimSelector', { selector: s.slice(0, 80) });
  return { domain: ascii, selector: s, key: readDkimKey(privateKey) };
}

/**
 * PEM text (RFC 7468) as the connection dialog takes it: pasted, or read from a file that may hold
 * a certificate and its key together. Like constants.ts, this module imports nothing and touches no
 * Node.js or browser API: the editor and the runtime read PEM the same way.
 */

/** One `-----BEGIN <label>-----` … `-----END <label>-----` block, as found. */
export interface PemBlock {
  label: string;
  text: string;
}

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;

/** The PEM blocks of a text, in order; anything around them (a bundle's comments) is left out. */
export function pemBlocks(text: string): PemBlock[] {
  return [...String(text).matchAll(BLOCK)].map((m) => ({ label: m[1], text: m[0] }));
}

/** Whether a block holds a private key (PKCS#8, encrypted PKCS#8, or OpenSSL's RSA/EC/DSA forms). */
export const isPrivateKey = (block: PemBlock): boolean => /PRIVATE KEY$/.test(block.label);

/** The certificates of a text, each on its own lines: what the certificate field keeps of a bundle. */
export function certificatesOf(text: string): string {
  return pemBlocks(text)
    .filter((b) => b.label === 'CERTIFICATE')
    .map((b) => pemText(b.text))
    .join('\n');
}

/**
 * OpenSSL's legacy encrypted keys carry two headers before the base64: `Proc-Type: 4,ENCRYPTED`
 * and `DEK-Info: <cipher>,<IV in hex>` (RFC 1421). The IV has the cipher's block size: 16 bytes for
 * AES, 8 for DES and the others OpenSSL offers, which says where it ends once line breaks are gone.
 */
const HEADERS = /^Proc-Type:\s*4,ENCRYPTED\s*DEK-Info:\s*([A-Za-z0-9-]+),/;

/**
 * A PEM block with its line breaks, however it came: a password field drops them from a pasted
 * key (Chromium) or turns them into spaces (Firefox), and OpenSSL reads no PEM without them.
 * The base64 is wrapped at 64 characters, as RFC 7468 writes it. Text that holds no PEM block is
 * returned as it was (trimmed), for the runtime's check to refuse with its own words.
 */
export function pemText(text: string): string {
  const m = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/.exec(String(text));
  if (!m) return String(text).trim();
  const [, label, inner] = m;
  let body = inner.trim();
  let headers = '';
  const h = HEADERS.exec(body);
  if (h) {
    const ivLength = /^AES/i.test(h[1]) ? 32 : 16;
    const rest = body.slice(h[0].length).replace(/\s+/g, '');
    headers = `Proc-Type: 4,ENCRYPTED\nDEK-Info: ${h[1]},${rest.slice(0, ivLength)}\n\n`;
    body = rest.slice(ivLength);
  }
  const base64 = body.replace(/\s+/g, '');
  const lines = base64.match(/.{1,64}/g) ?? [];
  return [`-----BEGIN ${label}-----`, headers + lines.join('\n'), `-----END ${label}-----`].join('\n') + '\n';
}

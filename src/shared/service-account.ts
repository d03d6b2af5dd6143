/**
 * A Google service account's JSON key file, as the connection dialog and the runtime read it: what
 * it must hold to sign in (type, client_email, private_key, token_uri) and what may be shown of it
 * (client_email, client_id: identifiers, never the key). Like constants.ts, this module imports
 * nothing and touches no Node.js or browser API; the runtime also checks the key itself
 * (lib/auth/service-account-key.ts).
 */

/** The fields of a key file the sign-in uses. */
export interface ServiceAccountFields {
  /** The service account: the JWT's issuer. */
  clientEmail: string;
  /** Its numeric OAuth2 client ID: what the Admin console's domain-wide delegation lists. */
  clientId: string;
  /** The PEM private key (PKCS#8): a secret. */
  privateKey: string;
  /** Which of the account's keys this is: the JWT header's kid. */
  privateKeyId: string;
  /** Where tokens are asked for (https://oauth2.googleapis.com/token): the JWT's audience. */
  tokenUri: string;
}

/** Why a text is no usable key file; each is a message key (`serviceAccount.<problem>`) in both catalogs. */
export type ServiceAccountProblem = 'empty' | 'notJson' | 'notServiceAccount' | 'noClientEmail' | 'noPrivateKey' | 'noTokenUri';

const PEM_PRIVATE_KEY = /-----BEGIN (RSA )?PRIVATE KEY-----[\s\S]+-----END (RSA )?PRIVATE KEY-----/;

/**
 * Reads a key file's text. Never says anything of the text in its answer but the fields above: a
 * problem is named by what is missing, so that no message can quote the key.
 */
export function readServiceAccountKey(text: unknown): { fields: ServiceAccountFields } | { problem: ServiceAccountProblem } {
  if (typeof text !== 'string' || !text.trim()) return { problem: 'empty' };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { problem: 'notJson' };
  }
  if (!json || typeof json !== 'object' || Array.isArray(json)) return { problem: 'notJson' };
  const k = json as Record<string, unknown>;
  const str = (v: unknown) => (typeof v === 'string' ? v.trim() : '');
  // An OAuth client's file ("installed"/"web") or an authorized user's has another type, or none.
  if (k.type !== 'service_account') return { problem: 'notServiceAccount' };
  if (!/^[^\s@]+@[^\s@]+$/.test(str(k.client_email))) return { problem: 'noClientEmail' };
  if (typeof k.private_key !== 'string' || !PEM_PRIVATE_KEY.test(k.private_key)) return { problem: 'noPrivateKey' };
  if (!/^https?:\/\/\S+$/i.test(str(k.token_uri))) return { problem: 'noTokenUri' };
  return {
    fields: {
      clientEmail: str(k.client_email),
      clientId: str(k.client_id),
      privateKey: k.private_key,
      privateKeyId: str(k.private_key_id),
      tokenUri: str(k.token_uri),
    },
  };
}

/**
 * What the editor and the runtime must agree on, written once. Both import this module: the
 * runtime as compiled by tsc, the editor bundled into each node's .html by scripts/build.js. It
 * imports only its sibling connection-fields.ts and touches no Node.js or browser API, so it runs
 * the same in both places.
 * Names and values here are the released flow format: add, never rename.
 */
import { CONNECTION_DEFAULTS, type AuthType, type OutboxMode } from './connection-fields';

// --- send-smtp-email

/** The TypedInput properties of the send node: the value in `x`, where it comes from in `xType`. */
export const TYPED_PROPERTIES = [
  'to',
  'cc',
  'bcc',
  'from',
  'replyTo',
  'subject',
  'html',
  'text',
  'attachment',
  'attachmentFilename',
  'headers',
  'inReplyTo',
  'references',
] as const;
export type TypedProperty = (typeof TYPED_PROPERTIES)[number];
/** The property holding a typed property's type: `xType`, except the attachment's (`attachmentType` was taken by the kind of attachment). */
export type TypeKey<N extends TypedProperty = TypedProperty> = N extends 'attachment' ? 'attachmentValueType' : `${N}Type`;
export function typeKey<N extends TypedProperty>(name: N): TypeKey<N> {
  return (name === 'attachment' ? 'attachmentValueType' : `${name}Type`) as TypeKey<N>;
}
/** Where a typed property's value may come from (the TypedInput's types). */
export const VALUE_TYPES = ['str', 'msg', 'flow', 'global', 'env', 'jsonata'] as const;
/** Where custom headers may come from: a JSON object, or one from the msg or a context. */
export const HEADERS_VALUE_TYPES = ['json', 'msg', 'flow', 'global', 'jsonata'] as const;
/** The type of a typed property saved without one: custom headers are a JSON object, the rest text. */
export function defaultValueType(name: TypedProperty): 'json' | 'str' {
  return name === 'headers' ? 'json' : 'str';
}

export const ATTACHMENT_TYPES = ['none', 'url', 'text', 'base64', 'custom', 'mime'] as const;
export type AttachmentType = (typeof ATTACHMENT_TYPES)[number];
export const STORE_TARGETS = ['none', 'msg', 'flow', 'global'] as const;
export type StoreTarget = (typeof STORE_TARGETS)[number];
export const PRIORITIES = ['normal', 'high', 'low'] as const;
export type Priority = (typeof PRIORITIES)[number];
/** send: to the server; preview: build the message and store it as .eml, without connecting. */
export const DELIVER_MODES = ['send', 'preview'] as const;
export type DeliverMode = (typeof DELIVER_MODES)[number];
/** A Content-ID the node's attachment may carry (`attachmentCid`): what `<img src="cid:…">` can name, without the angle brackets the header adds. */
export const CONTENT_ID = /^[^\s<>"]+$/;

/**
 * Recipients per mail, To, CC and BCC together, unless settings.js `smtpOauthConfigMaxRecipients`
 * raises it (for a private relay). Above what providers take (Exchange Online 500, Gmail 100 over
 * SMTP), and low enough that a list pasted or looked up by mistake fails at once: building a mail
 * for 100,000 recipients held the event loop for seconds.
 */
export const MAX_RECIPIENTS = 1000;

export const SEND_DEFAULTS = {
  attachmentType: 'none',
  storeResult: 'none',
  resultKey: 'emailResult',
  stopOnError: true,
  priority: 'normal',
  async: false,
  attachmentCid: '',
  deliver: 'send',
  previewFromMsg: false,
} as const satisfies {
  attachmentType: AttachmentType;
  storeResult: StoreTarget;
  priority: Priority;
  deliver: DeliverMode;
  [key: string]: unknown;
};

// --- smtp-oauth-config

// Each setting of the connection (kind, default, range, labels) is described in connection-fields.ts.
export {
  AUTH_TYPES,
  CLIENT_AUTH,
  CONNECTION_DEFAULTS,
  GRAPH_URL,
  TRANSPORTS,
  type ClientAuth,
  type TransportKind,
  OUTBOX_MODES,
  SECURITY,
  type AuthType,
  type OutboxMode,
  type Security,
} from './connection-fields';

/** The config node's Node-RED credentials: never in the flow file, secrets never sent back to the browser. */
export const CREDENTIALS = {
  user: { type: 'text' },
  password: { type: 'password' },
  clientId: { type: 'text' },
  clientSecret: { type: 'password' },
  refreshToken: { type: 'password' },
  accessToken: { type: 'password' },
  /** Certificate credentials: the PEM certificate (public; the dialog shows its thumbprints) and its private key. */
  clientCertificate: { type: 'text' },
  clientPrivateKey: { type: 'password' },
  /** The private key's passphrase, when the PEM key is encrypted. */
  clientKeyPassphrase: { type: 'password' },
  /**
   * The shared outbox's Redis (`outbox: "redis"`): `redis://[user:password@]host:port[/db]` or
   * `rediss://…`. A secret, as it may hold Redis's password; no sign-in method uses it.
   */
  redisUrl: { type: 'password' },
  /** A Google service account's JSON key file (google-service-account): it holds the private key. */
  serviceAccountKey: { type: 'password' },
  /** The DKIM signing key (PEM); not a sign-in credential: any method can sign. */
  dkimPrivateKey: { type: 'password' },
} as const;
export type CredentialName = keyof typeof CREDENTIALS;
export type SecretName = { [K in CredentialName]: (typeof CREDENTIALS)[K]['type'] extends 'password' ? K : never }[CredentialName];
export const CREDENTIAL_NAMES = Object.keys(CREDENTIALS) as readonly CredentialName[];
/** The credentials that are secret: the editor never gets them back, and Test connection guards them. */
export const SECRET_NAMES = CREDENTIAL_NAMES.filter(
  (name): name is SecretName => CREDENTIALS[name].type === 'password',
) as readonly SecretName[];
export const isSecret = (name: string): name is SecretName => (SECRET_NAMES as readonly string[]).includes(name);
/** The credentials each method uses, in the order the dialog shows them. */
const CREDENTIALS_OF: Readonly<Record<AuthType, readonly CredentialName[]>> = {
  basic: ['user', 'password'],
  'oauth2-client-credentials': ['user', 'clientId', 'clientSecret'],
  'google-service-account': ['user', 'serviceAccountKey'],
  oauth2: ['user', 'clientId', 'clientSecret', 'refreshToken', 'accessToken'],
  none: [],
};
/** What client credentials send in place of the secret when the app proves itself with a certificate. */
const CERTIFICATE_CREDENTIALS: readonly CredentialName[] = [
  'user',
  'clientId',
  'clientCertificate',
  'clientPrivateKey',
  'clientKeyPassphrase',
];
/**
 * The credentials a method uses (none for an unknown one), in the order the dialog shows them;
 * client credentials with a certificate use it and its key instead of the secret.
 */
export function credentialsOf(authType: string | undefined, clientAuth?: string): readonly CredentialName[] {
  const method = authType || CONNECTION_DEFAULTS.authType;
  if (method === 'oauth2-client-credentials' && clientAuth === 'certificate') return CERTIFICATE_CREDENTIALS;
  return Object.prototype.hasOwnProperty.call(CREDENTIALS_OF, method) ? CREDENTIALS_OF[method as AuthType] : [];
}

/** The credentials each outbox uses: only the shared one has any, the URL of its Redis. */
const OUTBOX_CREDENTIALS: Readonly<Record<OutboxMode, readonly CredentialName[]>> = {
  disk: [],
  memory: [],
  redis: ['redisUrl'],
};
/**
 * The credentials an outbox uses (none for an unknown one). They are the runtime's alone: the
 * sign-in never sends them, and Test connection, which tests the sign-in, never needs them.
 */
export function outboxCredentialsOf(outbox: string | undefined): readonly CredentialName[] {
  const mode = outbox || CONNECTION_DEFAULTS.outbox;
  return Object.prototype.hasOwnProperty.call(OUTBOX_CREDENTIALS, mode) ? OUTBOX_CREDENTIALS[mode as OutboxMode] : [];
}

/**
 * The credentials that sign mail rather than sign in: the DKIM key. Like the outbox's, they are
 * the runtime's alone: every method may sign, the sign-in never sends them, and Test connection,
 * which tests the sign-in, never needs them.
 */
export const SIGNING_CREDENTIALS: readonly CredentialName[] = ['dkimPrivateKey'];

/**
 * Concurrent SMTP connections a well-known service (a key of nodemailer's services.json) allows
 * per mailbox, where the provider documents a limit: a bigger pool only earns refusals. Exchange
 * Online: 3 (learn.microsoft.com, "Exchange Online limits", SMTP AUTH client submission); a fourth
 * login gets `432 4.3.2 Concurrent connections limit exceeded`.
 */
export const POOL_LIMITS: Readonly<Record<string, number>> = Object.freeze({ Outlook365: 3 });

/** The pool size a connection gets when the user set none: the service's limit, else the default. */
export function defaultPoolSize(service: string | undefined): number {
  return service && Object.prototype.hasOwnProperty.call(POOL_LIMITS, service) ? POOL_LIMITS[service] : CONNECTION_DEFAULTS.maxConnections;
}

// --- Microsoft 365 (Entra ID client credentials)

/** nodemailer's well-known service key of Microsoft 365. */
export const M365_SERVICE = 'Outlook365';

/** The scope of SMTP for client credentials: the resource with /.default (Entra ID rejects SMTP.Send there). */
export const M365_SCOPE = 'https://outlook.office365.com/.default';
/** Entra ID's v2.0 token endpoint; {tenant} is the Directory (tenant) ID or a verified domain. */
export const M365_TOKEN_URL = 'https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token';
/** The token URL as error hints show it, its placeholder named as Entra ID's overview page names the value. */
export const TOKEN_URL_EXAMPLE = M365_TOKEN_URL.replace('{tenant}', '{tenant_id}');

const [tokenUrlStart, tokenUrlEnd] = M365_TOKEN_URL.split('{tenant}');
const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
const TENANT_TOKEN_URL = new RegExp(`^${escapeRegExp(tokenUrlStart)}([^/]+)${escapeRegExp(tokenUrlEnd)}/?$`);

/** The token URL of a tenant. */
export function m365TokenUrl(tenant: string): string {
  return tokenUrlStart + encodeURIComponent(tenant) + tokenUrlEnd;
}

/** The tenant of a Microsoft 365 token URL, or undefined for any other URL. */
export function m365Tenant(tokenUrl: string): string | undefined {
  const m = TENANT_TOKEN_URL.exec(tokenUrl);
  if (!m) return undefined;
  try {
    return decodeURIComponent(m[1]);
  } catch {
    return m[1];
  }
}

// --- Google Workspace (a service account with domain-wide delegation)

/** nodemailer's well-known service key of Gmail and Google Workspace (smtp.gmail.com). */
export const GOOGLE_SERVICE = 'Gmail';
/** The scope of Gmail's SMTP and IMAP: the only one smtp.gmail.com takes for XOAUTH2. */
export const GOOGLE_SCOPE = 'https://mail.google.com/';

/**
 * Each setting of the connection node (`smtp-oauth-config`), described once: its kind, its
 * default, its range, the message keys of its label and tip in the dialog, and its name in the
 * runtime's errors. The editor builds its `defaults` and their validators from these descriptions
 * (nodes/smtp-oauth-config/editor.ts), the runtime its check of a deployed connection or a Test
 * connection request (lib/config/connection-config.ts), and both read a value with the same
 * functions below, so the dialog never accepts what the deploy refuses, nor the other way round.
 *
 * Like constants.ts, this module imports nothing and touches no Node.js or browser API: it runs in
 * the runtime as compiled by tsc and in the editor as linked by scripts/build.js. Property names,
 * values and defaults are the released flow format: add, never rename.
 */

export const SECURITY = ['starttls', 'tls', 'auto', 'none'] as const;
export type Security = (typeof SECURITY)[number];
export const AUTH_TYPES = ['basic', 'oauth2-client-credentials', 'google-service-account', 'oauth2', 'none'] as const;
export type AuthType = (typeof AUTH_TYPES)[number];
/**
 * Where accepted mails wait until the server took them: disk survives restarts and crashes; redis
 * is one outbox shared by every Node-RED instance that runs the connection (same node id).
 */
export const OUTBOX_MODES = ['disk', 'memory', 'redis'] as const;
export type OutboxMode = (typeof OUTBOX_MODES)[number];
/** How mails leave: SMTP, or Microsoft Graph's sendMail (client credentials only). */
export const TRANSPORTS = ['smtp', 'graph'] as const;
export type TransportKind = (typeof TRANSPORTS)[number];
/** How a client-credentials app proves who it is: a client secret, or a certificate (a signed client assertion). */
export const CLIENT_AUTH = ['secret', 'certificate'] as const;
export type ClientAuth = (typeof CLIENT_AUTH)[number];
/** Microsoft Graph's root in the global cloud; national clouds have their own. */
export const GRAPH_URL = 'https://graph.microsoft.com';
/** Graph's root as typed, trimmed and without a trailing slash; empty: the global cloud's. */
export const graphRoot = (value: unknown): string => (typeof value === 'string' ? value.trim().replace(/\/+$/, '') : '') || GRAPH_URL;
/** The scope Graph's tokens are asked for when the connection sets none: the resource with /.default. */
export const graphScope = (graphUrl: unknown): string => `${graphRoot(graphUrl)}/.default`;

/**
 * A host name (RFC 1123), an IPv4 address or an IPv6 address, with nothing else around it: no
 * scheme, port or path, and nothing Node's DNS lookup could choke on.
 */
export const HOST = /^(?:[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,251}[A-Za-z0-9_])?|\[?[0-9A-Fa-f:.]{2,45}\]?)$/;

interface Described {
  /** Key of its label in the dialog, in the connection's catalog (`smtp-oauth-config.label.…`). */
  label: string;
  /** Key of the tip under it in the dialog, in the same catalog, where it has one. */
  tip?: string;
  /** Key of its name in the runtime's errors, in the send node's catalog (`fields.config.…`). */
  name: string;
}
export interface TextField extends Described {
  kind: 'text';
  default: string;
  /** What a value must look like once trimmed, when there is one. */
  pattern?: RegExp;
}
export interface ChoiceField<T extends string = string> extends Described {
  kind: 'choice';
  values: readonly T[];
  default: T;
}
export interface FlagField extends Described {
  kind: 'flag';
  default: boolean;
}
/**
 * A number. The dialog saves what is typed as text ("25"), a flow written by hand or by a script
 * may hold a number, and an empty field (or a field missing from an older flow) means the default.
 */
export interface NumberField extends Described {
  kind: 'number';
  default: number;
  min: number;
  max: number;
  /** Whole numbers only. */
  integer: boolean;
}
export type ConnectionField = TextField | ChoiceField | FlagField | NumberField;

const DAY = 86400;

/**
 * The settings, in the order the dialog shows them. Where 0 or an empty field means something
 * other than the number itself, the comment says so; the runtime acts on it (transport-options.ts,
 * pool-limits.ts, connection.ts).
 */
export const CONNECTION_FIELDS = {
  /** A key of nodemailer's well-known services; empty: "Other SMTP Service", with host, port and security by hand. */
  service: { kind: 'text', default: '', label: 'label.service', name: 'fields.config.service' },
  /** Required unless a service is chosen (the service brings its own). */
  host: { kind: 'text', default: '', pattern: HOST, label: 'label.host', name: 'fields.config.host' },
  /** Empty: the port of the security, 465 for TLS, else 587 (transport-options.ts). */
  port: { kind: 'number', default: 587, min: 1, max: 65535, integer: true, label: 'label.port', name: 'fields.config.port' },
  security: { kind: 'choice', values: SECURITY, default: 'starttls', label: 'label.security', name: 'fields.config.security' },
  rejectUnauthorized: { kind: 'flag', default: true, label: 'label.rejectUnauthorized', name: 'fields.config.certificateCheck' },
  authType: { kind: 'choice', values: AUTH_TYPES, default: 'basic', label: 'label.authType', name: 'fields.config.authentication' },
  tokenUrl: { kind: 'text', default: '', label: 'label.tokenUrl', tip: 'hint.tokenUrl', name: 'fields.config.tokenUrl' },
  scope: { kind: 'text', default: '', label: 'label.scope', tip: 'hint.scope', name: 'fields.config.scope' },
  /** Client credentials only: a secret, or a certificate whose key signs a client assertion. */
  clientAuth: { kind: 'choice', values: CLIENT_AUTH, default: 'secret', label: 'label.clientAuth', name: 'fields.config.clientAuth' },
  /** Graph needs client credentials; the scope then defaults to `{graphUrl}/.default`. */
  transport: {
    kind: 'choice',
    values: TRANSPORTS,
    default: 'smtp',
    label: 'label.transport',
    tip: 'hint.transport',
    name: 'fields.config.transport',
  },
  /** https:, or http: for a server on this machine only (connection-config.ts checks that). */
  graphUrl: {
    kind: 'text',
    default: GRAPH_URL,
    pattern: /^https?:\/\/[^\s/?#]+\/?$/i,
    label: 'label.graphUrl',
    tip: 'hint.graphUrl',
    name: 'fields.config.graphUrl',
  },
  /**
   * 0 or empty: the service's documented limit (POOL_LIMITS in constants.ts), else the default.
   * 1000 is far beyond what any server lets one mailbox open.
   */
  maxConnections: {
    kind: 'number',
    default: 5,
    min: 0,
    max: 1000,
    integer: true,
    label: 'label.maxConnections',
    tip: 'hint.maxConnections',
    name: 'fields.config.poolSize',
  },
  /** Messages per minute; 0: no limit. */
  rateLimitPerMinute: {
    kind: 'number',
    default: 0,
    min: 0,
    max: 1000000,
    integer: true,
    label: 'label.rateLimitPerMinute',
    tip: 'hint.rateLimitPerMinute',
    name: 'fields.config.rateLimit',
  },
  /** Seconds, for the SMTP server, the token endpoint and attachment downloads; 0: the default. A day at most: beyond that it is no time-out. */
  timeout: {
    kind: 'number',
    default: 30,
    min: 0,
    max: DAY,
    integer: true,
    label: 'label.timeout',
    tip: 'hint.timeout',
    name: 'fields.config.timeout',
  },
  /** Seconds a send with a transient failure is retried; 0: never. At most a week, longer than mail servers keep a mail queued (Postfix: 5 days). */
  retryForSeconds: {
    kind: 'number',
    default: 600,
    min: 0,
    max: 7 * DAY,
    integer: true,
    label: 'label.retryForSeconds',
    tip: 'hint.retryForSeconds',
    name: 'fields.config.retryTime',
  },
  /** Largest URL attachment, in MB; 0 or empty: settings.js `smtpOauthConfigMaxAttachmentMB`, else the default. */
  maxAttachmentMB: {
    kind: 'number',
    default: 25,
    min: 0,
    max: 100000,
    integer: false,
    label: 'label.maxAttachmentMB',
    tip: 'hint.maxAttachmentMB',
    name: 'fields.config.maxAttachment',
  },
  outbox: {
    kind: 'choice',
    values: OUTBOX_MODES,
    default: 'disk',
    label: 'label.outbox',
    tip: 'hint.outbox',
    name: 'fields.config.outbox',
  },
  /** With dkimSelector and the credential dkimPrivateKey: every mail of the connection is DKIM-signed for this domain. */
  dkimDomain: { kind: 'text', default: '', label: 'label.dkimDomain', tip: 'hint.dkimDomain', name: 'fields.config.dkimDomain' },
  /** The selector: the key's TXT record is published at `{selector}._domainkey.{domain}`. */
  dkimSelector: { kind: 'text', default: '', label: 'label.dkimSelector', tip: 'hint.dkimSelector', name: 'fields.config.dkimSelector' },
  /** The disk or Redis outbox's cap in MB; beyond it new mails fail with EOUTBOX. 10 KB at least: one small mail. */
  outboxMaxMB: {
    kind: 'number',
    default: 200,
    min: 0.01,
    max: 1000000,
    integer: false,
    label: 'label.outboxMaxMB',
    tip: 'hint.outboxMaxMB',
    name: 'fields.config.outboxCap',
  },
} as const satisfies Record<string, ConnectionField>;

export type ConnectionFieldName = keyof typeof CONNECTION_FIELDS;
type Fields = typeof CONNECTION_FIELDS;
export type NumberFieldName = { [K in ConnectionFieldName]: Fields[K]['kind'] extends 'number' ? K : never }[ConnectionFieldName];
export const CONNECTION_FIELD_NAMES = Object.keys(CONNECTION_FIELDS) as ConnectionFieldName[];
export const NUMBER_FIELD_NAMES = CONNECTION_FIELD_NAMES.filter(
  (name): name is NumberFieldName => CONNECTION_FIELDS[name].kind === 'number',
);

/** Each field's default; numbers in the units the dialog shows (seconds, MB). */
export const CONNECTION_DEFAULTS = Object.fromEntries(CONNECTION_FIELD_NAMES.map((name) => [name, CONNECTION_FIELDS[name].default])) as {
  readonly [K in ConnectionFieldName]: Fields[K]['default'];
};

/** A field left empty, or missing from a flow saved before the field existed: its default applies. */
export const isUnset = (value: unknown): value is undefined | null | '' => value === undefined || value === null || value === '';

/** Digits, maybe a decimal part, maybe spaces around: what the dialog saves for a number. No sign, no exponent. */
const NUMBER_TEXT = /^\s*\d+(\.\d+)?\s*$/;

/**
 * A number field's value: undefined when unset, NaN when it is no number, not a whole number where
 * one is needed, or outside the field's range.
 */
export function readNumber(field: NumberField, value: unknown): number | undefined {
  if (isUnset(value)) return undefined;
  const n = typeof value === 'number' ? value : typeof value === 'string' && NUMBER_TEXT.test(value) ? Number(value) : NaN;
  return Number.isFinite(n) && n >= field.min && n <= field.max && (!field.integer || Number.isInteger(n)) ? n : NaN;
}

/** Whether a choice field holds one of its values, or nothing (its default). */
export const isChoice = (field: ChoiceField, value: unknown): boolean =>
  isUnset(value) || (typeof value === 'string' && field.values.includes(value));

/** Whether a flag holds true or false (as a boolean, or as the text a hand-written flow may hold), or nothing. */
export const isFlag = (value: unknown): boolean => isUnset(value) || typeof value === 'boolean' || value === 'true' || value === 'false';

/** Whether a text field holds text that fits its pattern (once trimmed), or nothing. */
export const isText = (field: TextField, value: unknown): boolean =>
  isUnset(value) || (typeof value === 'string' && (!field.pattern || !value.trim() || field.pattern.test(value.trim())));

/** Whether a field's value is one the runtime takes (what each field's kind allows). */
export function isValid(field: ConnectionField, value: unknown): boolean {
  switch (field.kind) {
    case 'number':
      return !Number.isNaN(readNumber(field, value));
    case 'choice':
      return isChoice(field, value);
    case 'flag':
      return isFlag(value);
    case 'text':
      return isText(field, value);
  }
}

/** Whether a host is given where it is needed (SMTP without a service) and looks like a host name or address. */
export const isHost = (service: unknown, host: unknown, transport?: unknown): boolean =>
  isText(CONNECTION_FIELDS.host, host) && (!!service || transport === 'graph' || (typeof host === 'string' && !!host.trim()));

/**
 * A field as the editor's `defaults` declare it: its default, and a validator that accepts what
 * the runtime accepts. Node-RED marks the node invalid (a red triangle, a warning at deploy) when
 * the validator returns false.
 */
export function editorProperty<N extends ConnectionFieldName>(name: N): { value: Fields[N]['default']; validate: (v: unknown) => boolean } {
  const field: ConnectionField = CONNECTION_FIELDS[name];
  return { value: CONNECTION_FIELDS[name].default, validate: (v) => isValid(field, v) };
}

import { CREDENTIAL_NAMES, credentialsOf, isSecret, OUTBOX_MODES, outboxCredentialsOf, SIGNING_CREDENTIALS } from '../../shared/constants';
import { checkConnectionConfig, checkCredentials } from './connection-config';
import { resolveServer, type ConnectionConfig, type ConnectionCredentials } from './transport-options';

/** Node-RED sends this in place of a password the user did not change in the dialog. */
export const UNCHANGED = '__PWRD__';

/** A field that is an environment variable as a whole, as Node-RED replaces it at deploy (@node-red/runtime flows/util.js): `${NAME}` or the older `$(NAME)`. */
const ENV_FIELD = /^\$(?:\{(\S+)\}|\((\S+)\))$/;

/**
 * The dialog's fields with environment variables replaced as a deploy replaces them, so that Test
 * connection tries what the deployed connection will use (the demo's port is `${INBOX_SMTP_PORT}`).
 * Only whole-field references, and never in credentials: Node-RED replaces neither. A variable
 * that is not set stays as typed, as at deploy, and the field check then names it.
 *
 * `conceal` puts the reference back where an answer would quote a variable's value: a user allowed
 * to test connections must not read the process's environment through an error ("port must be a
 * whole number …, not "<the value of any variable>"").
 */
export function resolveEnvFields(
  body: Record<string, unknown>,
  lookup: (name: string) => unknown,
): { fields: Record<string, unknown>; conceal: (text: string) => string } {
  const fields: Record<string, unknown> = { ...body };
  const quoted: [string, string][] = [];
  const unquoted: [string, string][] = [];
  for (const [key, value] of Object.entries(body)) {
    if (key === 'credentials' || typeof value !== 'string') continue;
    const m = ENV_FIELD.exec(value);
    if (!m) continue;
    const resolved = lookup(m[1] ?? m[2]);
    if (resolved === undefined) continue;
    fields[key] = resolved;
    const text = String(resolved);
    // As the checks quote a value: JSON-quoted (numbers, flags, lists) or in plain quotes (a host, cut at 80).
    for (const form of [JSON.stringify(text), `"${text}"`, `"${text.trim().slice(0, 80)}"`]) if (text) quoted.push([form, `"${value}"`]);
    // Unquoted, as a network error names a host: only a value long enough not to be part of other words and numbers.
    if (text.trim().length >= 6) unquoted.push([text.trim(), value]);
  }
  const conceal = (text: string) => [...quoted, ...unquoted].reduce((out, [form, reference]) => out.split(form).join(reference), text);
  return { fields, conceal };
}

/** The deployed connection a Test connection request names, as far as the endpoint may use it. */
export interface StoredConnection {
  config: ConnectionConfig;
  credentials: ConnectionCredentials;
}

/** What Test connection may run with, or which secret the user must type again and why. */
export type TestPlan = { config: ConnectionConfig; credentials: ConnectionCredentials } | { needSecret: string; changed: string[] };

/**
 * The outbox's credentials (the shared outbox's Redis URL, which may hold Redis's password) and the
 * DKIM key: Test connection tests the sign-in, never the outbox nor the signing, so it neither
 * takes them from the dialog nor fills them in from the deployed node, and no answer can carry them.
 */
const RUNTIME_CREDENTIALS: readonly string[] = [...OUTBOX_MODES.flatMap((mode) => outboxCredentialsOf(mode)), ...SIGNING_CREDENTIALS];

/** The secrets each method sends (client credentials: the secret, or the certificate's key and passphrase), in the order the dialog shows them. */
const secretsOf = (config: ConnectionConfig) => credentialsOf(config.authType, config.clientAuth).filter(isSecret);

/**
 * Where a secret goes: the SMTP server as it resolves, the token URL, Graph's URL (the token is
 * sent there), and the methods that use them.
 */
function destination(config: ConnectionConfig) {
  const server = resolveServer(config);
  return {
    service: config.service || '',
    host: server.host.toLowerCase(),
    port: server.port,
    security: server.security,
    certificateCheck: config.rejectUnauthorized !== false,
    authType: config.authType,
    clientAuth: config.clientAuth,
    tokenUrl: config.tokenUrl || '',
    transport: config.transport,
    graphUrl: config.graphUrl || '',
  };
}

/**
 * Decides what Test connection runs with. Fields are checked first (throws ECONFIG). A stored
 * secret is filled in only for the connection it belongs to, and only while every field that says
 * where it goes equals the deployed value: otherwise a user allowed to test connections could have
 * any node's stored password (an http request's, an mqtt broker's) sent to a server of their own.
 */
export function planTest(body: Record<string, unknown>, stored: StoredConnection | undefined): TestPlan {
  const config = checkConnectionConfig(body);
  const typed = checkCredentials(body.credentials);
  const credentials: ConnectionCredentials = {};
  let changed: string[] | undefined;
  for (const name of CREDENTIAL_NAMES) {
    if (RUNTIME_CREDENTIALS.includes(name)) continue;
    if (typed[name] !== undefined && typed[name] !== UNCHANGED) {
      credentials[name] = typed[name];
      continue;
    }
    const keep = stored?.credentials[name];
    if (keep === undefined || keep === '') continue;
    if (!changed) {
      const now = destination(config);
      const then = destination(stored!.config);
      changed = (Object.keys(now) as (keyof typeof now)[]).filter((k) => now[k] !== then[k]);
    }
    if (!changed.length) credentials[name] = keep;
  }
  const missing = secretsOf(config).find(
    (name) => credentials[name] === undefined && (typed[name] === UNCHANGED || !!stored?.credentials[name]),
  );
  if (missing) return { needSecret: missing, changed: changed ?? [] };
  return { config, credentials };
}

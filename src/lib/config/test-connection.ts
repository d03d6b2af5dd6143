import { CREDENTIAL_NAMES, credentialsOf, isSecret } from '../../shared/constants';
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
 */
export function resolveEnvFields(body: Record<string, unknown>, lookup: (name: string) => unknown): Record<string, unknown> {
  const out: Record<string, unknown> = { ...body };
  for (const [key, value] of Object.entries(body)) {
    if (key === 'credentials' || typeof value !== 'string') continue;
    const m = ENV_FIELD.exec(value);
    if (!m) continue;
    const resolved = lookup(m[1] ?? m[2]);
    if (resolved !== undefined) out[key] = resolved;
  }
  return out;
}

/** The deployed connection a Test connection request names, as far as the endpoint may use it. */
export interface StoredConnection {
  config: ConnectionConfig;
  credentials: ConnectionCredentials;
}

/** What Test connection may run with, or which secret the user must type again and why. */
export type TestPlan = { config: ConnectionConfig; credentials: ConnectionCredentials } | { needSecret: string; changed: string[] };

/** The secrets each method sends, in the order the dialog shows them. */
const secretsOf = (authType: string | undefined) => credentialsOf(authType).filter(isSecret);

/** Where a secret goes: the SMTP server as it resolves, the token URL, and the methods that use them. */
function destination(config: ConnectionConfig) {
  const server = resolveServer(config);
  return {
    service: config.service || '',
    host: server.host.toLowerCase(),
    port: server.port,
    security: server.security,
    certificateCheck: config.rejectUnauthorized !== false,
    authType: config.authType,
    tokenUrl: config.tokenUrl || '',
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
  const missing = secretsOf(config.authType).find(
    (name) => credentials[name] === undefined && (typed[name] === UNCHANGED || !!stored?.credentials[name]),
  );
  if (missing) return { needSecret: missing, changed: changed ?? [] };
  return { config, credentials };
}

import type { Node, NodeAPI, NodeDef } from 'node-red';
import services from 'nodemailer/lib/well-known/services.json';
import { Connection } from '../../lib/connection';
import type { MailError } from '../../lib/errors';
import type { RetryTiming } from '../../lib/retry';
import type { ConnectionConfig, ConnectionCredentials } from '../../lib/transport-options';

export interface SmtpOauthConfigDef extends NodeDef, ConnectionConfig {}

export interface SmtpOauthConfigNode extends Node<ConnectionCredentials> {
  /** The connection, created on first use so that deploying opens no socket. */
  connection(): Connection;
}

const CREDENTIALS = {
  user: { type: 'text' },
  password: { type: 'password' },
  clientId: { type: 'text' },
  clientSecret: { type: 'password' },
  refreshToken: { type: 'password' },
  accessToken: { type: 'password' },
} as const;

/** Node-RED sends this in place of a password the user did not change in the dialog. */
const UNCHANGED = '__PWRD__';

export = function (RED: NodeAPI) {
  function SmtpOauthConfig(this: SmtpOauthConfigNode, def: SmtpOauthConfigDef) {
    RED.nodes.createNode(this, def);
    const node = this;
    let connection: Connection | undefined;
    node.connection = () =>
      (connection ??= new Connection(def, node.credentials || {}, {
        onError: (err) => node.warn(err.message),
        maxAttachmentMB: (RED.settings as { smtpOauthConfigMaxAttachmentMB?: unknown }).smtpOauthConfigMaxAttachmentMB,
        // Not for users: tests and the benchmark shorten the backoff or drive its clock.
        retry: (RED.settings as { smtpOauthConfigRetryTiming?: RetryTiming }).smtpOauthConfigRetryTiming,
      }));
    if (def.authType === 'oauth2') node.warn(RED._('smtp-oauth-config.warn.deprecatedOauth2'));
    node.on('close', (_removed: boolean, done: () => void) => {
      const closing = connection?.close() ?? Promise.resolve();
      connection = undefined;
      closing.then(done, done);
    });
  }
  RED.nodes.registerType<SmtpOauthConfigNode, SmtpOauthConfigDef, unknown, ConnectionCredentials>('smtp-oauth-config', SmtpOauthConfig, {
    credentials: CREDENTIALS,
  });

  // The editor's service list comes from the installed nodemailer, never from a copy.
  RED.httpAdmin.get('/smtp-oauth-config/services', RED.auth.needsPermission('smtp-oauth-config.read'), (_req, res) => {
    const list = Object.entries(services as Record<string, { description?: string; host?: string; port?: number | string; secure?: boolean }>)
      .filter(([, s]) => s.host)
      .map(([key, s]) => ({ key, description: s.description || key, host: s.host, port: Number(s.port), secure: !!s.secure }));
    res.json(list);
  });

  // Test connection: uses the values in the dialog, with stored secrets for those left unchanged.
  RED.httpAdmin.post('/smtp-oauth-config/test', RED.auth.needsPermission('smtp-oauth-config.write'), async (req, res) => {
    const body = (req.body || {}) as ConnectionConfig & { id?: string; credentials?: ConnectionCredentials };
    const stored = (body.id ? RED.nodes.getCredentials(String(body.id)) : undefined) as ConnectionCredentials | undefined;
    const creds: ConnectionCredentials = {};
    for (const key of Object.keys(CREDENTIALS) as (keyof ConnectionCredentials)[]) {
      const typed = body.credentials?.[key];
      creds[key] = typed === undefined || typed === UNCHANGED ? stored?.[key] : typed;
    }
    const config: ConnectionConfig = { ...body, maxConnections: 1, rateLimitPerMinute: 0 };
    const connection = new Connection(config, creds, { tokenTimeout: 15000 });
    try {
      await connection.verify();
      res.json({ ok: true });
    } catch (e) {
      const err = e as MailError;
      res.json({ ok: false, error: { message: err.message, code: err.code, responseCode: err.responseCode, hint: err.hint } });
    } finally {
      await connection.close(0);
    }
  });
};

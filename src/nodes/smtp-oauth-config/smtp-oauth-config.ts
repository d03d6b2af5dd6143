import type { NodeAPI, NodeDef } from 'node-red';
import services from 'nodemailer/lib/well-known/services.json';
import { checkConnectionConfig } from '../../lib/connection-config';
import { Connection } from '../../lib/connection';
import type { MailError } from '../../lib/errors';
import type { RetryTiming } from '../../lib/retry';
import { planTest } from '../../lib/test-connection';
import type { ConnectionConfig, ConnectionCredentials } from '../../lib/transport-options';
import { CONNECTION_DEFAULTS, CREDENTIALS } from '../../shared/constants';
import type { SmtpOauthConfigNode } from './types';

interface SmtpOauthConfigDef extends NodeDef, ConnectionConfig {}

const errorJson = (err: MailError) => ({ message: err.message, code: err.code, responseCode: err.responseCode, hint: err.hint });

export = function (RED: NodeAPI) {
  function SmtpOauthConfig(this: SmtpOauthConfigNode, def: SmtpOauthConfigDef) {
    RED.nodes.createNode(this, def);
    const node = this;
    let invalid: MailError | undefined;
    try {
      node.settings = checkConnectionConfig(def);
    } catch (e) {
      invalid = e as MailError;
      node.error(`${invalid.message}. ${invalid.hint}`);
    }
    let connection: Connection | undefined;
    node.connection = () => {
      if (invalid) throw invalid;
      return (connection ??= new Connection(node.settings!, node.credentials || {}, {
        onError: (err) => node.warn(err.message),
        maxAttachmentMB: (RED.settings as { smtpOauthConfigMaxAttachmentMB?: unknown }).smtpOauthConfigMaxAttachmentMB,
        // Not for users: tests and the benchmark shorten the backoff or drive its clock.
        retry: (RED.settings as { smtpOauthConfigRetryTiming?: RetryTiming }).smtpOauthConfigRetryTiming,
      }));
    };
    if (def.authType === 'oauth2') node.warn(RED._('smtp-oauth-config.warn.deprecatedOauth2'));
    node.on('close', (_removed: boolean, done: () => void) => {
      const closing = connection?.close() ?? Promise.resolve();
      connection = undefined;
      closing.then(done, done);
    });
  }
  // The setting is also the dialog's default for new connections (exported to the editor as RED.settings.smtpOauthConfigMaxAttachmentMB).
  RED.nodes.registerType<SmtpOauthConfigNode, SmtpOauthConfigDef, { smtpOauthConfigMaxAttachmentMB: number }, ConnectionCredentials>('smtp-oauth-config', SmtpOauthConfig, {
    credentials: CREDENTIALS,
    settings: { smtpOauthConfigMaxAttachmentMB: { value: CONNECTION_DEFAULTS.maxAttachmentMB, exportable: true } },
  });

  // The editor's service list comes from the installed nodemailer, never from a copy.
  RED.httpAdmin.get('/smtp-oauth-config/services', RED.auth.needsPermission('smtp-oauth-config.read'), (_req, res) => {
    const list = Object.entries(services as Record<string, { description?: string; host?: string; port?: number | string; secure?: boolean }>)
      .filter(([, s]) => s.host)
      .map(([key, s]) => ({ key, description: s.description || key, host: s.host, port: Number(s.port), secure: !!s.secure }));
    res.json(list);
  });

  // Test connection: the values in the dialog, with stored secrets only where they belong (test-connection.ts).
  RED.httpAdmin.post('/smtp-oauth-config/test', RED.auth.needsPermission('smtp-oauth-config.write'), async (req, res) => {
    // JSON only: a browser cannot send it cross-site without a CORS preflight, which Node-RED does
    // not grant, while a plain HTML form can post urlencoded or text bodies from any page.
    if (!req.is('application/json')) return void res.status(415).json({ ok: false, error: { message: 'Test connection accepts only application/json' } });
    const body = req.body as Record<string, unknown>;
    if (!body || typeof body !== 'object' || Array.isArray(body)) return void res.status(400).json({ ok: false, error: { message: 'The request body must be a JSON object' } });
    const deployed = typeof body.id === 'string' ? (RED.nodes.getNode(body.id) as SmtpOauthConfigNode | null) : null;
    const stored = deployed?.type === 'smtp-oauth-config' && deployed.settings ? { config: deployed.settings, credentials: deployed.credentials || {} } : undefined;
    let plan;
    try {
      plan = planTest(body, stored);
    } catch (e) {
      return void res.status(400).json({ ok: false, error: errorJson(e as MailError) });
    }
    if ('needSecret' in plan) {
      const what = RED._(`smtp-oauth-config.label.${plan.needSecret}`);
      const message = RED._('smtp-oauth-config.test.needSecret', { secret: what, changed: plan.changed.join(', ') || '-' });
      return void res.json({ ok: false, needSecret: plan.needSecret, error: { code: 'ECONFIG', message, hint: RED._('smtp-oauth-config.test.needSecretHint', { secret: what }) } });
    }
    const connection = new Connection({ ...plan.config, maxConnections: 1, rateLimitPerMinute: 0 }, plan.credentials, { tokenTimeout: 15000 });
    try {
      await connection.verify();
      res.json({ ok: true });
    } catch (e) {
      res.json({ ok: false, error: errorJson(e as MailError) });
    } finally {
      await connection.close(0);
    }
  });
};

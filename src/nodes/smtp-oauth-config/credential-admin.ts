import type { NodeAPI } from 'node-red';
import services from 'nodemailer/lib/well-known/services.json';
import { certificateInfo } from '../../lib/auth/certificate-info';
import type { MailError } from '../../lib/errors/errors';
import { localized, requestLanguage, translator, type Say } from '../../lib/errors/translate';
import { dkimRecordValue, readDkimKey } from '../../lib/message/dkim-key';
import { pemBlocks, pemText } from '../../shared/pem';
import { readServiceAccountKey } from '../../shared/service-account';
import type { SmtpOauthConfigNode } from './types';

type Answer = { json(body: unknown): void; status(code: number): Answer };

/**
 * The longest certificate text the dialog may have read: a certificate is 1–2 KB of PEM, a chain
 * of a few a handful; this bounds what one request makes the runtime parse.
 */
const MAX_CERTIFICATE_CHARS = 64 * 1024;

/** The longest DKIM key text the dialog may send: an RSA key of 8192 bits is under 7 KB of PEM. */
const MAX_DKIM_KEY_CHARS = 16 * 1024;

/**
 * The admin endpoints that tell the dialog what the runtime knows and the browser cannot work out:
 * the well-known services, and the public side of a credential (a certificate's thumbprints, a
 * service account's identifiers, a DKIM key's DNS record). Read permission: nothing secret is ever
 * answered, and a stored secret is read by the deployed connection's id, never sent back.
 */
export function registerCredentialAdmin(RED: NodeAPI, say: Say): void {
  // The editor's service list comes from the installed nodemailer, never from a copy.
  RED.httpAdmin.get('/smtp-oauth-config/services', RED.auth.needsPermission('smtp-oauth-config.read'), (_req, res) => {
    const list = Object.entries(
      services as Record<string, { description?: string; host?: string; port?: number | string; secure?: boolean }>,
    )
      .filter(([, s]) => s.host)
      .map(([key, s]) => ({ key, description: s.description || key, host: s.host, port: Number(s.port), secure: !!s.secure }));
    res.json(list);
  });

  // What the dialog shows of the client certificate: subject, the thumbprints Entra's portal lists,
  // and the expiry. A certificate is public, so reading it needs only read permission; the dialog
  // never sends the private key here, and the answer holds nothing but these four values.
  RED.httpAdmin.post('/smtp-oauth-config/certificate', RED.auth.needsPermission('smtp-oauth-config.read'), (req, res) => {
    const lng = requestLanguage(req.headers['accept-language']);
    const t = (key: string) => RED._(`smtp-oauth-config.certificate.${key}`, lng ? { lng } : {});
    if (!req.is('application/json')) return void res.status(415).json({ error: t('jsonOnly') });
    const pem = (req.body as { certificate?: unknown } | undefined)?.certificate;
    if (typeof pem !== 'string') return void res.status(400).json({ error: t('missing') });
    if (pem.length > MAX_CERTIFICATE_CHARS) return void res.status(413).json({ error: t('tooLarge') });
    // Only the first CERTIFICATE block is read: a bundle's other blocks (a chain, a key) never are.
    const block = pemBlocks(pem).find((b) => b.label === 'CERTIFICATE');
    if (!block) return void res.status(400).json({ error: t('unreadable') });
    try {
      const { subject, sha1, sha256, notAfter } = certificateInfo(pemText(block.text));
      res.json({ subject, sha1, sha256, notAfter: notAfter.toISOString() });
    } catch {
      res.status(400).json({ error: t('unreadable') });
    }
  });

  // What the dialog shows of a deployed connection's service account key, which the editor never
  // gets back: the account (client_email) and its client ID, identifiers the Admin console lists.
  // Nothing else of the key file is ever answered, and nothing of it when it is unreadable.
  RED.httpAdmin.get('/smtp-oauth-config/service-account/:id', RED.auth.needsPermission('smtp-oauth-config.read'), (req, res) => {
    const deployed = RED.nodes.getNode(String(req.params.id)) as SmtpOauthConfigNode | null;
    const read = deployed?.type === 'smtp-oauth-config' ? readServiceAccountKey(deployed.credentials?.serviceAccountKey) : undefined;
    if (!read || !('fields' in read)) return void res.status(404).json({});
    res.json({ clientEmail: read.fields.clientEmail, clientId: read.fields.clientId });
  });

  // The DNS TXT record of a DKIM key, for the dialog to show: its value only (v=DKIM1; k=…; p=the
  // public key), which is public. The dialog sends a key the user pasted or chose; for a key
  // already stored (never sent back to the editor, it is a secret) it asks by the deployed
  // connection's id, and the runtime derives the record from the stored key. Read permission, as
  // for the certificate: nothing secret is answered.
  const dkimAnswer = (req: { headers: Record<string, unknown> }, res: Answer, pem: string | undefined) => {
    const lng = requestLanguage(req.headers['accept-language'] as string | undefined);
    const sayHere = lng ? translator(RED._, lng) : say;
    try {
      const key = readDkimKey(pem);
      res.json({ type: key.type, bits: key.bits, value: dkimRecordValue(key) });
    } catch (e) {
      const err = localized(e as MailError, sayHere);
      res.status(400).json({ error: err.message, hint: err.hint });
    }
  };
  RED.httpAdmin.post('/smtp-oauth-config/dkim-record', RED.auth.needsPermission('smtp-oauth-config.read'), (req, res) => {
    const lng = requestLanguage(req.headers['accept-language']);
    const t = (key: string) => RED._(`smtp-oauth-config.dkim.${key}`, lng ? { lng } : {});
    if (!req.is('application/json')) return void res.status(415).json({ error: t('jsonOnly') });
    const pem = (req.body as { privateKey?: unknown } | undefined)?.privateKey;
    if (typeof pem !== 'string') return void res.status(400).json({ error: t('missing') });
    if (pem.length > MAX_DKIM_KEY_CHARS) return void res.status(413).json({ error: t('tooLarge') });
    dkimAnswer(req, res, pem);
  });
  RED.httpAdmin.get('/smtp-oauth-config/:id/dkim-record', RED.auth.needsPermission('smtp-oauth-config.read'), (req, res) => {
    const lng = requestLanguage(req.headers['accept-language']);
    const node = RED.nodes.getNode(String(req.params.id)) as SmtpOauthConfigNode | null;
    const pem = node?.type === 'smtp-oauth-config' ? node.credentials?.dkimPrivateKey : undefined;
    if (!pem) return void res.status(404).json({ error: RED._('smtp-oauth-config.dkim.notStored', lng ? { lng } : {}) });
    dkimAnswer(req, res, pem);
  });
}

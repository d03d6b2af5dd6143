import type { NodeAPI } from 'node-red';
import type { OutboxEntry } from '../../lib/delivery/outcome';
import type { ConnectionOutbox, WaitingMail } from '../../shared/outbox-list';
import { localized, requestLanguage, translator, type Say } from '../../lib/errors/translate';
import type { SmtpOauthConfigNode } from './types';

/** A waiting mail as the tab gets it: its last error and hint in the editor's language, without the catalog keys. */
function shown(mail: OutboxEntry, say: Say): WaitingMail {
  const { lastError, ...rest } = mail;
  if (!lastError) return rest;
  const { message, code, responseCode, hint } = localized(lastError, say);
  return { ...rest, lastError: { message, code, responseCode, hint } };
}

/** A connection's waiting mails; one that cannot list them shows none rather than failing the whole list. */
async function listed(node: SmtpOauthConfigNode): Promise<OutboxEntry[]> {
  try {
    return (await node.outbox?.list()) ?? [];
  } catch {
    return [];
  }
}

/**
 * The admin endpoints of the editor's Outbox tab: list the waiting mails of every connection
 * (read permission), retry or delete one or all (write permission). Answers never hold a body,
 * an attachment, a msg or a credential: only what the tab shows.
 */
export function registerOutboxAdmin(RED: NodeAPI, say: Say): void {
  const connections = (): SmtpOauthConfigNode[] => {
    const found: SmtpOauthConfigNode[] = [];
    RED.nodes.eachNode((def: { id: string; type: string }) => {
      if (def.type !== 'smtp-oauth-config') return;
      const node = RED.nodes.getNode(def.id) as SmtpOauthConfigNode | null;
      if (node) found.push(node);
    });
    return found;
  };

  // The tab sends the editor's language as Accept-Language; without it, Node-RED's own.
  RED.httpAdmin.get('/smtp-oauth-config/outbox', RED.auth.needsPermission('smtp-oauth-config.read'), async (req, res) => {
    const lng = requestLanguage(req.headers['accept-language']);
    const sayHere = lng ? translator(RED._, lng) : say;
    const answer = connections().map(async (node): Promise<ConnectionOutbox> => ({
      id: node.id,
      name: node.name || '',
      outbox: node.settings?.outbox === 'redis' ? 'redis' : node.outbox ? 'disk' : 'memory',
      mails: (await listed(node)).map((mail) => shown(mail, sayHere)),
    }));
    res.json(await Promise.all(answer));
  });

  // JSON only, as Test connection: a cross-site form cannot send it without a CORS preflight.
  for (const action of ['retry', 'delete'] as const) {
    RED.httpAdmin.post(`/smtp-oauth-config/outbox/:id/${action}`, RED.auth.needsPermission('smtp-oauth-config.write'), async (req, res) => {
      if (!req.is('application/json')) return void res.status(415).json({ error: 'JSON only' });
      const node = RED.nodes.getNode(String(req.params.id)) as SmtpOauthConfigNode | null;
      if (!node || node.type !== 'smtp-oauth-config' || !node.outbox)
        return void res.status(404).json({ error: 'No connection with an outbox has this id' });
      const mail = (req.body as { mail?: unknown } | undefined)?.mail;
      if (mail !== undefined && typeof mail !== 'string')
        return void res.status(400).json({ error: 'mail must be the id of a waiting mail' });
      try {
        const count = action === 'retry' ? await node.outbox.retryNow(mail) : await node.outbox.remove(mail);
        res.json({ count });
      } catch (e) {
        res.status(500).json({ error: (e as Error).message });
      }
    });
  }
}

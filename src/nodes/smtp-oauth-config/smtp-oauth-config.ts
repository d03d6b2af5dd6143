import path from 'node:path';
import type { Node, NodeAPI, NodeDef } from 'node-red';
import { checkConnectionConfig, checkRedisUrl, DEFAULT_OUTBOX_MB, type StoredConnection } from '../../lib/config/connection-config';
import { Connection, type Outcome } from '../../lib/connection';
import type { Localizable, MailError } from '../../lib/errors/errors';
import { outboxFolder, OUTBOX_ROOT, orphanedOutboxes } from '../../lib/delivery/outbox-folders';
import type { RetryTiming } from '../../lib/delivery/retry';
import type { MailRecord } from '../../lib/delivery/store';
import { planTest, resolveEnvFields } from '../../lib/config/test-connection';
import { text } from '../../lib/errors/texts';
import { localized, requestLanguage, translator, withHint, type Say } from '../../lib/errors/translate';
import type { ConnectionCredentials } from '../../lib/config/transport-options';
import { CONNECTION_DEFAULTS, CREDENTIALS } from '../../shared/constants';
import { dkimSettings, type DkimSettings } from '../../lib/message/dkim-key';
import { registerCredentialAdmin } from './credential-admin';
import { registerOutboxAdmin } from './outbox-admin';
import type { OutcomeReceiver, SmtpOauthConfigNode } from './types';

type SmtpOauthConfigDef = NodeDef & StoredConnection;

/** The listener of the module loaded last (the test helper loads it again for every flow). */
let orphanScan: (() => void) | undefined;

/** An error as Test connection answers it, in the language of `say`. */
const errorJson = (error: MailError, say: Say) => {
  const err = localized(error, say);
  return { message: err.message, code: err.code, responseCode: err.responseCode, hint: err.hint };
};

/** An error as the log shows it: the message, then the hint, in the language of `say`. */
const logLine = (error: Localizable, say: Say) => withHint(localized(error, say));

export = function (RED: NodeAPI) {
  /** Errors and hints in Node-RED's language (settings.js lang, else the system's). */
  const say = translator(RED._);

  function SmtpOauthConfig(this: SmtpOauthConfigNode, def: SmtpOauthConfigDef) {
    RED.nodes.createNode(this, def);
    const node = this;
    let invalid: MailError | undefined;
    let dkim: DkimSettings | undefined;
    try {
      node.settings = checkConnectionConfig(def);
      // Every instance of the flows must reach the same Redis: a bad URL stops this one at deploy, not at its first mail.
      if (node.settings.outbox === 'redis') checkRedisUrl(node.credentials?.redisUrl);
      // The key is read once, here: a bad one stops the connection at deploy, and a preview too (dkimError).
      try {
        dkim = dkimSettings(node.settings.dkimDomain, node.settings.dkimSelector, node.credentials?.dkimPrivateKey);
      } catch (e) {
        node.dkimError = e as MailError;
        throw e;
      }
    } catch (e) {
      invalid = e as MailError;
      node.error(logLine(invalid, say));
    }
    let connection: Connection | undefined;
    const settings = RED.settings as {
      smtpOauthConfigMaxAttachmentMB?: unknown;
      smtpOauthConfigRetryTiming?: RetryTiming;
      smtpOauthConfigRateWindowMs?: number;
      smtpOauthConfigCloseGraceMs?: number;
      smtpOauthConfigRedisLockMs?: number;
      userDir?: string;
    };
    const disk = !invalid && node.settings!.outbox === 'disk';
    const redisUrl = !invalid && node.settings!.outbox === 'redis' ? node.credentials?.redisUrl : undefined;
    if (disk && !settings.userDir) node.warn(RED._('smtp-oauth-config.log.noUserDir'));
    const outboxDir = disk && settings.userDir ? path.join(settings.userDir, OUTBOX_ROOT, outboxFolder(node.id)) : undefined;
    /** Send nodes following their count of mails in the outbox. */
    const watchers = new Map<(count: number) => void, string>();

    node.connection = () => {
      if (invalid) throw invalid;
      return (connection ??= new Connection(node.settings!, node.credentials || {}, {
        onError: (err) => node.warn(localized(err as MailError, say).message),
        maxAttachmentMB: settings.smtpOauthConfigMaxAttachmentMB,
        // Not for users: tests and the benchmark shorten the backoff or drive its clock, and shorten the rate limit's minute.
        retry: settings.smtpOauthConfigRetryTiming,
        rateWindowMs: settings.smtpOauthConfigRateWindowMs,
        report,
        warn: (record, warning) => (senderOf(record) ?? node).warn(say(warning)),
        onChange: () => {
          for (const [fn, id] of watchers) fn(connection?.outbox?.countFor(id) ?? 0);
        },
        outbox: outboxDir ? { dir: outboxDir, maxBytes: outboxBytes() } : undefined,
        // The queue is named after this node's id, the same in every Node-RED that runs these flows.
        shared: redisUrl
          ? { name: node.id, url: redisUrl, maxBytes: outboxBytes(), lockMs: settings.smtpOauthConfigRedisLockMs }
          : undefined,
        dkim,
      }));
    };

    const outboxBytes = () => Number(node.settings!.outboxMaxMB ?? DEFAULT_OUTBOX_MB) * 1024 * 1024;

    /** The send node a mail came from, while it is deployed. */
    const senderOf = (record: MailRecord) =>
      (record.node ? (RED.nodes.getNode(record.node) as (Node & Partial<OutcomeReceiver>) | null) : null) ?? undefined;

    /** The outcome of a mail whose msg no longer waits: to its send node if it is still deployed, else to the log. */
    function report(record: MailRecord, outcome: Outcome) {
      const sender = senderOf(record);
      if (sender && typeof sender.reportOutcome === 'function')
        return sender.reportOutcome(record.msg as Record<string, unknown> | undefined, outcome, record);
      const about = { subject: record.summary.subject, to: record.summary.to, messageId: record.messageId };
      if ('info' in outcome) {
        node.log(RED._('smtp-oauth-config.log.sent', about));
        // Recipients given up while still deferred: said as the send node would have said them.
        for (const w of outcome.info.warnings ?? []) node.warn(say(w));
      } else node.warn(RED._('smtp-oauth-config.log.failed', { ...about, error: logLine(outcome.error, say) }));
    }

    let onStarted: (() => void) | undefined;
    let started = false;
    if (outboxDir) {
      const outbox = node.connection().outbox!;
      // Opened once the flows run (a send before that opens it itself): the start of Node-RED does not
      // wait for it, a crash's leftovers are still found and reported at start, and only then are
      // the send nodes there to report to, and Catch nodes to see it.
      onStarted = () => {
        if (started) return;
        started = true;
        outbox.open().then(
          () => {
            const found = outbox.found!;
            // A directory or link in the outbox folder is not ours: left alone, and said.
            if (found.skipped.length)
              node.warn(RED._('smtp-oauth-config.log.skipped', { names: found.skipped.join(', '), dir: outboxDir }));
            // Unfinished writes alone are mails that were never accepted (their msg got no answer): nothing to warn about.
            if (found.damaged.length) {
              node.warn(
                RED._('smtp-oauth-config.log.damaged', {
                  damaged: found.damaged.length,
                  temps: found.removedTemps,
                  dir: path.join(outboxDir, 'damaged'),
                }),
              );
            }
          },
          (err: MailError) => node.error(logLine(err, say)),
        );
        outbox.resume();
      };
      RED.events.on('flows:started', onStarted);
      node.outbox = {
        list: () => outbox.list(),
        retryNow: (id) => outbox.retryNow(id),
        remove: (id) => outbox.remove(id),
      };
      node.watchOutbox = (id, fn) => {
        watchers.set(fn, id);
        fn(outbox.countFor(id));
        return () => watchers.delete(fn);
      };
      node.releaseOutbox = (id) => connection?.outbox?.release(id);
    }
    if (redisUrl) {
      const shared = node.connection().shared!;
      // This instance starts delivering every instance's mails once its flows run.
      onStarted = () => {
        if (started) return;
        started = true;
        shared.open().catch((err: MailError) => node.error(logLine(err, say)));
        shared.resume();
      };
      RED.events.on('flows:started', onStarted);
      node.outbox = shared;
      node.releaseOutbox = (id) => shared.release(id);
    }
    if (node.settings?.authType === 'oauth2') node.warn(RED._('smtp-oauth-config.warn.deprecatedOauth2'));
    node.on('close', (_removed: boolean, done: () => void) => {
      if (onStarted) RED.events.removeListener('flows:started', onStarted);
      watchers.clear();
      // Node-RED gives a closing node 15 s: attempts under way get 10 of them (tests shorten it).
      const closing = connection?.close(settings.smtpOauthConfigCloseGraceMs) ?? Promise.resolve();
      connection = undefined;
      closing.then(done, done);
    });
  }
  // The setting is also the dialog's default for new connections (exported to the editor as RED.settings.smtpOauthConfigMaxAttachmentMB).
  RED.nodes.registerType<SmtpOauthConfigNode, SmtpOauthConfigDef, { smtpOauthConfigMaxAttachmentMB: number }, ConnectionCredentials>(
    'smtp-oauth-config',
    SmtpOauthConfig,
    {
      credentials: CREDENTIALS,
      settings: { smtpOauthConfigMaxAttachmentMB: { value: CONNECTION_DEFAULTS.maxAttachmentMB, exportable: true } },
    },
  );

  // The outbox of a connection that was deleted from the flows: its mails are never sent with
  // another connection's credentials; the user is told once where they are.
  if (orphanScan) RED.events.removeListener('flows:started', orphanScan);
  const warned = new Set<string>();
  orphanScan = () => {
    const userDir = (RED.settings as { userDir?: string }).userDir;
    if (!userDir) return;
    const connections = new Set<string>();
    RED.nodes.eachNode((n: { id: string; type: string }) => {
      if (n.type === 'smtp-oauth-config') connections.add(n.id);
    });
    orphanedOutboxes(path.join(userDir, OUTBOX_ROOT), connections).then(
      (found) => {
        for (const { dir, count } of found) {
          if (warned.has(dir)) continue;
          warned.add(dir);
          RED.log.warn(RED._('smtp-oauth-config.log.orphaned', { count, dir }));
        }
      },
      () => undefined,
    );
  };
  RED.events.on('flows:started', orphanScan);

  registerOutboxAdmin(RED, say);

  registerCredentialAdmin(RED, say);

  // Test connection: the values in the dialog, with stored secrets only where they belong (test-connection.ts).
  // The answer is in the editor's language: the dialog sends it as Accept-Language.
  RED.httpAdmin.post('/smtp-oauth-config/test', RED.auth.needsPermission('smtp-oauth-config.write'), async (req, res) => {
    const lng = requestLanguage(req.headers['accept-language']);
    const sayHere = lng ? translator(RED._, lng) : say;
    const language: Record<string, string> = lng ? { lng } : {};
    // JSON only: a browser cannot send it cross-site without a CORS preflight, which Node-RED does
    // not grant, while a plain HTML form can post urlencoded or text bodies from any page.
    if (!req.is('application/json'))
      return void res.status(415).json({ ok: false, error: { message: sayHere(text('errors.test.jsonOnly')) } });
    const raw = req.body as Record<string, unknown>;
    if (!raw || typeof raw !== 'object' || Array.isArray(raw))
      return void res.status(400).json({ ok: false, error: { message: sayHere(text('errors.test.notObject')) } });
    const deployed = typeof raw.id === 'string' ? (RED.nodes.getNode(raw.id) as SmtpOauthConfigNode | null) : null;
    // ${NAME} in a field, as the deploy resolves it: through the deployed node's flow (global
    // environment variables, then the process's), else the process's environment.
    const { fields: body, conceal } = resolveEnvFields(raw, (name) => RED.util.getSetting(deployed ?? (null as unknown as Node), name));
    /** The error as the answer says it, with no variable's value in its words (a host in a DNS error, a refused port). */
    const concealed = (e: MailError) => {
      const error = errorJson(e, sayHere);
      return { ...error, message: conceal(error.message), hint: error.hint && conceal(error.hint) };
    };
    const stored =
      deployed?.type === 'smtp-oauth-config' && deployed.settings
        ? { config: deployed.settings, credentials: deployed.credentials || {} }
        : undefined;
    let plan;
    try {
      plan = planTest(body, stored);
    } catch (e) {
      return void res.status(400).json({ ok: false, error: concealed(e as MailError) });
    }
    if ('needSecret' in plan) {
      const what = RED._(`smtp-oauth-config.label.${plan.needSecret}`, language);
      const message = RED._('smtp-oauth-config.test.needSecret', { secret: what, changed: plan.changed.join(', ') || '-', ...language });
      return void res.json({
        ok: false,
        needSecret: plan.needSecret,
        error: { code: 'ECONFIG', message, hint: RED._('smtp-oauth-config.test.needSecretHint', { secret: what, ...language }) },
      });
    }
    const connection = new Connection({ ...plan.config, maxConnections: 1, rateLimitPerMinute: 0 }, plan.credentials, {
      tokenTimeout: 15000,
    });
    try {
      const note = await connection.verify();
      res.json(note ? { ok: true, note: sayHere(note) } : { ok: true });
    } catch (e) {
      res.json({ ok: false, error: concealed(e as MailError) });
    } finally {
      await connection.close(0);
    }
  });
};

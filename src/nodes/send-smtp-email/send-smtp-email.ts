import type { Node, NodeAPI, NodeDef, NodeMessage, NodeMessageInFlow } from 'node-red';
import type { Address } from '../../lib/message/addresses';
import { buildAttachment, closeStreams, DEFAULT_LIMITS, fromMsgAttachments } from '../../lib/message/attachments';
import { composeBuffer } from '../../lib/message/compose';
import { contentId, customHeaders, missingCids, threading } from '../../lib/message/headers';
import { ErrorCodes, mailError, type MailError } from '../../lib/errors/errors';
import {
  buildMessage,
  previewResult,
  successResult,
  withWarnings,
  type PreviewResult,
  type SuccessResult,
} from '../../lib/message/message';
import { isHandedOver, type HandedOver, type Outcome, type SentInfo } from '../../lib/connection';
import { text } from '../../lib/errors/texts';
import { translator } from '../../lib/errors/translate';
import { SEND_DEFAULTS, type DeliverMode, type StoreTarget } from '../../shared/constants';
import type { OutcomeReceiver, SmtpOauthConfigNode } from '../smtp-oauth-config/types';
import { maxRecipients, propertyReader } from './read-properties';
import { asMailError, failure, reportable, resultStore, type Result } from './results';
import { SendStatus } from './status';

interface SendSmtpEmailDef extends NodeDef {
  connection: string;
  priority?: string;
  attachmentType?: string;
  attachmentMimeType?: string;
  storeResult?: StoreTarget;
  resultKey?: string;
  stopOnError?: boolean;
  async?: boolean;
  /** Content-ID of the node's own attachment, for an inline image. */
  attachmentCid?: string;
  deliver?: DeliverMode;
  /** Whether msg.preview = true may turn a send into a preview. */
  previewFromMsg?: boolean;
  [key: string]: unknown;
}

export = function (RED: NodeAPI) {
  /** Errors, hints and warnings in Node-RED's language (settings.js lang, else the system's). */
  const say = translator(RED._);

  function SendSmtpEmail(this: Node, def: SendSmtpEmailDef) {
    RED.nodes.createNode(this, def);
    const node = this;
    const configNode = RED.nodes.getNode(def.connection) as SmtpOauthConfigNode | null;
    const results = resultStore(RED, node, def.storeResult || SEND_DEFAULTS.storeResult, def.resultKey || SEND_DEFAULTS.resultKey);
    const stopOnError = def.stopOnError !== false;
    const readProperties = propertyReader(RED, node, def);
    const recipientCap = maxRecipients(RED);
    const status = new SendStatus(RED, node);
    /** Msgs not yet finished: a redeploy waits for them so that none is lost. */
    const active = new Set<Promise<void>>();

    /** Reads the msg, builds the message and sends it; resolves with the success result. */
    async function deliver(msg: NodeMessage): Promise<SuccessResult | PreviewResult | HandedOver> {
      // A preview builds the message without connecting, so it needs no connection.
      const preview = def.deliver === 'preview' || (def.previewFromMsg === true && (msg as { preview?: unknown }).preview === true);
      if (!configNode && !preview) throw mailError(ErrorCodes.ECONFIG, text('errors.send.noConnection'), text('hints.send.noConnection'));
      const connection = preview ? previewConnection() : configNode?.connection();
      const values = await readProperties(msg);
      const msgHeaders = (msg as { headers?: unknown }).headers;
      // Check every other input before any download starts.
      const headers = customHeaders(values.headers, msgHeaders);
      const thread = threading(values, msgHeaders);
      const message = buildMessage(
        {
          ...values,
          priority: def.priority,
          headers,
          inReplyTo: thread.inReplyTo,
          references: thread.references,
        },
        connection?.user ?? configNode?.credentials?.user ?? '',
        recipientCap,
      );
      const cid = contentId(def.attachmentCid);
      const limits = connection?.downloadLimits ?? DEFAULT_LIMITS;
      const attachments = await fromMsgAttachments((msg as { attachments?: unknown }).attachments, limits);
      const own = await buildAttachment(
        {
          type: def.attachmentType || 'none',
          value: values.attachment,
          filename: values.attachmentFilename === undefined ? undefined : String(values.attachmentFilename),
          mimeType: def.attachmentMimeType,
        },
        limits,
      ).catch((err) => {
        closeStreams(attachments);
        throw err;
      });
      // nodemailer sends a pregenerated MIME part as written and ignores a cid beside it.
      if (cid && own?.raw !== undefined) {
        closeStreams(attachments);
        throw mailError(ErrorCodes.EINPUT, text('errors.send.mimeCid'), text('hints.send.mimeCid'));
      }
      if (own) attachments.unshift(cid ? { ...own, cid } : own);
      message.attachments = attachments.length ? attachments : undefined;
      const missing = missingCids(message.html as string | undefined, attachments);
      const warnings = [...thread.warnings, ...missing.map((cid) => text('warnings.missingCid', { cid }))].map(say);
      for (const w of warnings) node.warn(w);
      if (preview || !connection) {
        try {
          // Signed as the connection signs its mails, so that the .eml verifies as the sent mail would.
          return withWarnings(previewResult(await composeBuffer(message, await connection?.signing())), warnings);
        } finally {
          closeStreams(attachments);
        }
      }
      const sender = (message.from as Address).address.toLowerCase();
      const customFrom = values.from !== undefined && values.from !== '' && sender !== connection.user.toLowerCase();
      try {
        const sent = await connection.send(
          message,
          customFrom,
          (queued) => {
            status.waiting += queued ? 1 : -1;
            status.show();
          },
          (waits, why) => {
            status.retrying += waits ? 1 : -1;
            if (why?.code) status.retryCode = why.code;
            status.show();
          },
          { node: node.id, msg: msg as unknown as Record<string, unknown> },
        );
        // The msg ends here, its mail in the outbox (redeploy, stop): the outcome is reported when it comes.
        if (isHandedOver(sent)) return sent;
        return withWarnings(successResult(sent), [...warnings, ...undelivered(sent)]);
      } finally {
        closeStreams(attachments);
      }
    }

    /**
     * The connection for a preview, which connects to nothing: none when its settings are invalid
     * (ECONFIG would stop a send), and the preview is built with the stored user as sender and the
     * default download limits.
     */
    function previewConnection() {
      try {
        return configNode?.connection();
      } catch (e) {
        // A key that cannot sign: a preview would show a mail unlike the ones the connection sends.
        if (configNode?.dkimError) throw e;
        return undefined;
      }
    }

    /** The warnings of a mail that some recipients did not get (still deferred when retries ended), said in the log as well. */
    function undelivered(sent: SentInfo): string[] {
      const said = (sent.warnings ?? []).map(say);
      for (const w of said) node.warn(w);
      return said;
    }

    /** Sends one msg, keeping the status up to date. */
    function run(msg: NodeMessage): Promise<Result | HandedOver> {
      status.sending++;
      status.show();
      return deliver(msg).then(
        (result) => {
          status.sending--;
          if (!isHandedOver(result)) {
            status.lastError = undefined;
            status.lastPreview = (result as PreviewResult).preview === true;
          }
          status.show();
          return result;
        },
        (e) => {
          status.sending--;
          status.lastError = asMailError(e);
          status.show();
          throw e;
        },
      );
    }

    const badKey = results.keyError();
    if (badKey) {
      status.lastError = badKey;
      node.error(reportable(badKey, say));
      status.paint();
    }

    /** Keeps a msg's handling in `active` until it ended; a throw there is reported. */
    function track(handling: Promise<void>, msg: NodeMessage, done: (err?: Error) => void) {
      const handled = handling.catch((err: Error) => (def.async ? node.error(err, msg) : done(err)));
      active.add(handled);
      handled.then(() => active.delete(handled));
    }

    node.on('input', (msg: NodeMessageInFlow, send: (msg: NodeMessage) => void, done: (err?: Error) => void) => {
      // Checked again with the msg: a key such as results[msg.topic] parses only when msg.topic exists.
      // Not even in async mode is the msg passed on: its result could not be stored.
      const refused = badKey || results.keyError(msg);
      if (refused) {
        status.lastError = refused;
        status.show();
        return done(reportable(refused, say));
      }
      if (def.async) {
        send(msg);
        done();
        track(
          run(msg).then(
            (result) => {
              if (!isHandedOver(result)) results.store(msg, result);
            },
            (err: MailError) => {
              if (results.inContext) results.store(msg, failure(err, say));
              node.error(reportable(err, say), msg);
            },
          ),
          msg,
          done,
        );
        return;
      }
      const handled = run(msg).then(
        (result) => {
          // Accepted into the outbox: the msg ends here, its outcome is reported as in async mode.
          if (isHandedOver(result)) return done();
          results.store(msg, result);
          send(msg);
          done();
        },
        (err: MailError) => {
          if (stopOnError) return done(reportable(err, say));
          results.store(msg, failure(err, say));
          send(msg);
          done();
        },
      );
      track(handled, msg, done);
    });

    /**
     * The outcome of a mail of this node whose msg no longer waits for it (sent from the outbox after
     * a restart or redeploy), reported as in async mode: stored in flow or global context, a failure
     * to Catch nodes with the msg the mail came with, a success in the log.
     */
    const receiver: OutcomeReceiver = {
      reportOutcome(stored, outcome: Outcome, record) {
        const msg = (stored ?? { _msgid: RED.util.generateId() }) as NodeMessage;
        if ('info' in outcome) {
          const result = withWarnings(successResult(outcome.info), undelivered(outcome.info));
          if (results.inContext) results.store(msg, result);
          status.lastError = undefined;
          status.lastPreview = false;
          node.log(
            RED._('send-smtp-email.log.sentFromOutbox', {
              subject: record.summary.subject,
              to: record.summary.to,
              messageId: result.messageId,
            }),
          );
        } else {
          const err = asMailError(outcome.error);
          if (results.inContext) results.store(msg, failure(err, say));
          status.lastError = err;
          node.error(reportable(err, say), msg);
        }
        status.show();
      },
    };
    Object.assign(node, receiver);
    const unwatch = configNode?.watchOutbox?.(node.id, (count) => {
      if (count === status.inOutbox) return;
      status.inOutbox = count;
      status.show();
    });

    // Node-RED waits for this (up to its close time-out) before it stops the flow.
    node.on('close', (_removed: boolean, done: () => void) => {
      unwatch?.();
      // Msgs whose mails wait in the outbox end now, accepted; the mails are sent all the same.
      configNode?.releaseOutbox?.(node.id);
      const finished = () => {
        status.clear();
        done();
      };
      Promise.allSettled([...active]).then(finished, finished);
    });
  }
  RED.nodes.registerType('send-smtp-email', SendSmtpEmail);
};

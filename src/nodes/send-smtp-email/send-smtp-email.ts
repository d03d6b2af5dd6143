import type { Node, NodeAPI, NodeDef, NodeMessage, NodeMessageInFlow } from 'node-red';
import type { Address } from '../../lib/message/addresses';
import { buildAttachment, closeStreams, DEFAULT_LIMITS, fromMsgAttachments } from '../../lib/message/attachments';
import { composeBuffer } from '../../lib/message/compose';
import { contentId, customHeaders, messageIds, missingCids } from '../../lib/message/headers';
import { ErrorCodes, mailError, type MailError } from '../../lib/errors/errors';
import {
  buildMessage,
  failureResult,
  previewResult,
  successResult,
  withWarnings,
  type FailureResult,
  type PreviewResult,
  type SuccessResult,
} from '../../lib/message/message';
import { isDeferred, type Outcome } from '../../lib/delivery/outbox';
import type { SentInfo } from '../../lib/connection';
import { resultKeyError } from '../../lib/message/result-key';
import { renderTemplate, type TemplateScopes } from '../../lib/message/templates';
import { text, type Text } from '../../lib/errors/texts';
import { localized, translator, withHint, type Say } from '../../lib/errors/translate';
import {
  defaultValueType as defaultType,
  SEND_DEFAULTS,
  TYPED_PROPERTIES as TYPED,
  typeKey,
  type DeliverMode,
  type StoreTarget,
  type TypedProperty as TypedName,
} from '../../shared/constants';
import type { OutcomeReceiver, SmtpOauthConfigNode } from '../smtp-oauth-config/types';

/** Typed properties whose `str` value is a mustache template. */
const TEMPLATES: Partial<Record<TypedName, 'html' | 'plain'>> = { subject: 'plain', html: 'html', text: 'plain' };

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

type Result = SuccessResult | PreviewResult | FailureResult;

/** The typed properties as errors name them (the catalog's fields.*). */
const FIELD_NAMES: Record<TypedName, Text> = {
  to: text('fields.to'),
  cc: text('fields.cc'),
  bcc: text('fields.bcc'),
  from: text('fields.from'),
  replyTo: text('fields.replyTo'),
  subject: text('fields.subject'),
  html: text('fields.html'),
  text: text('fields.text'),
  attachment: text('fields.attachment'),
  attachmentFilename: text('fields.attachmentFilename'),
  headers: text('fields.headers'),
  inReplyTo: text('fields.inReplyTo'),
  references: text('fields.references'),
};

export = function (RED: NodeAPI) {
  /** Errors, hints and warnings in Node-RED's language (settings.js lang, else the system's). */
  const say = translator(RED._);

  function SendSmtpEmail(this: Node, def: SendSmtpEmailDef) {
    RED.nodes.createNode(this, def);
    const node = this;
    const configNode = RED.nodes.getNode(def.connection) as SmtpOauthConfigNode | null;
    const storeResult = def.storeResult || SEND_DEFAULTS.storeResult;
    const resultKey = def.resultKey || SEND_DEFAULTS.resultKey;
    const stopOnError = def.stopOnError !== false;
    let sending = 0;
    /** Of those, how many wait for their turn under the connection's rate limit. */
    let waiting = 0;
    /** Of those, how many wait for their next attempt after a transient failure. */
    let retrying = 0;
    /** Msgs not yet finished: a redeploy waits for them so that none is lost. */
    const active = new Set<Promise<void>>();

    /** Types whose value may come from an asynchronous context store or expression. */
    const ASYNC_TYPES = new Set(['flow', 'global', 'jsonata']);
    // The reason is Node-RED's own words (a JSONata or context store error).
    const failedRead = (name: TypedName, type: string, value: string, err: Error) =>
      mailError(
        ErrorCodes.EINPUT,
        text('errors.send.unreadable', { name: FIELD_NAMES[name], type, value, reason: err.message }),
        text('hints.send.unreadable', { name: FIELD_NAMES[name] }),
      );

    /** A property's value for this msg: at once where Node-RED can give it at once, else a promise. */
    const evaluate = (name: TypedName, msg: NodeMessage): unknown => {
      const value = def[name] as string | undefined;
      const type = (def[typeKey(name)] as string | undefined) || defaultType(name);
      if (type === 'str') return value;
      if (value === undefined || value === '') return undefined;
      if (!ASYNC_TYPES.has(type)) {
        try {
          return RED.util.evaluateNodeProperty(value, type, node, msg);
        } catch (err) {
          throw failedRead(name, type, value, err as Error);
        }
      }
      return new Promise((resolve, reject) =>
        RED.util.evaluateNodeProperty(value, type, node, msg, (err, result) =>
          err ? reject(failedRead(name, type, value, err)) : resolve(result),
        ),
      );
    };

    const scopes: TemplateScopes = {
      flow: (key) => node.context().flow.get(key),
      global: (key) => node.context().global.get(key),
      env: (key) => RED.util.evaluateNodeProperty(key, 'env', node, {} as NodeMessage),
    };

    /** Reads the msg, builds the message and sends it; resolves with the success result. */
    async function deliver(msg: NodeMessage): Promise<SuccessResult | PreviewResult> {
      // A preview builds the message without connecting, so it needs no connection.
      const preview = def.deliver === 'preview' || (def.previewFromMsg === true && (msg as { preview?: unknown }).preview === true);
      if (!configNode && !preview) throw mailError(ErrorCodes.ECONFIG, text('errors.send.noConnection'), text('hints.send.noConnection'));
      const connection = configNode?.connection();
      const values = {} as Record<TypedName, unknown>;
      for (const name of TYPED) {
        let value = evaluate(name, msg);
        if (value instanceof Promise) value = await value;
        const template = TEMPLATES[name];
        if (template && typeof value === 'string' && (def[typeKey(name)] || 'str') === 'str') {
          value = renderTemplate(value, msg, scopes, template === 'html');
        }
        values[name] = value;
      }
      // Check every other input before any download starts.
      const message = buildMessage(
        {
          ...values,
          priority: def.priority,
          headers: customHeaders(values.headers, (msg as { headers?: unknown }).headers),
          inReplyTo: messageIds(values.inReplyTo, 'In-Reply-To'),
          references: messageIds(values.references, 'References'),
        },
        connection?.user ?? '',
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
      const warnings = missing.map((cid) => say(text('warnings.missingCid', { cid })));
      for (const w of warnings) node.warn(w);
      if (preview || !connection) {
        try {
          return withWarnings(previewResult(await composeBuffer(message)), warnings);
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
            waiting += queued ? 1 : -1;
            showStatus();
          },
          (waits) => {
            retrying += waits ? 1 : -1;
            showStatus();
          },
          { node: node.id, msg: msg as unknown as Record<string, unknown> },
        );
        return withWarnings(successResult(sent), [...warnings, ...undelivered(sent)]);
      } finally {
        closeStreams(attachments);
      }
    }

    /** The warnings of a mail that some recipients did not get (still deferred when retries ended), said in the log as well. */
    function undelivered(sent: SentInfo): string[] {
      const said = (sent.warnings ?? []).map(say);
      for (const w of said) node.warn(w);
      return said;
    }

    function store(msg: NodeMessage, result: Result) {
      if (storeResult === 'msg') RED.util.setMessageProperty(msg, resultKey, result, true);
      else if (storeResult === 'flow') node.context().flow.set(resultKey, result);
      else if (storeResult === 'global') node.context().global.set(resultKey, result);
    }

    // Status texts by count: translating on every send (i18next resolves plural rules each time)
    // took a sixth of the node's CPU time at 1000 messages per second.
    const labels = new Map<string, string>();
    const label = (key: 'sending' | 'queued' | 'retrying' | 'outbox', count: number) => {
      const id = `${key}:${count}`;
      let text = labels.get(id);
      if (text === undefined) {
        if (labels.size >= 200) labels.clear();
        text = RED._(`send-smtp-email.status.${key}`, { count });
        labels.set(id, text);
      }
      return text;
    };

    /** The error of the last send, while no later send succeeded. */
    let lastError: MailError | undefined;
    /** Whether the last success was a preview: nothing was sent, so the status must not say "sent". */
    let lastPreview = false;
    /** This node's mails in the connection's outbox whose msg no longer waits (after a restart or redeploy). */
    let inOutbox = 0;
    let statusTimer: NodeJS.Timeout | undefined;
    let statusStale = false;

    function paintStatus() {
      // A send waiting for a retry is what the user most needs to know about.
      if (retrying > 0) node.status({ fill: 'yellow', shape: 'ring', text: label('retrying', retrying) });
      else if (waiting > 0) node.status({ fill: 'blue', shape: 'ring', text: label('queued', waiting) });
      else if (sending > 0) node.status({ fill: 'blue', shape: 'dot', text: label('sending', sending) });
      // Mails of this node that wait in the outbox since a restart or redeploy.
      else if (inOutbox > 0) node.status({ fill: 'blue', shape: 'ring', text: label('outbox', inOutbox) });
      else if (lastError) node.status({ fill: 'red', shape: 'ring', text: String(lastError.code || 'error').slice(0, 19) });
      else if (lastPreview) node.status({ fill: 'grey', shape: 'dot', text: RED._('send-smtp-email.status.preview') });
      else
        node.status({ fill: 'green', shape: 'dot', text: RED._('send-smtp-email.status.sent', { time: new Date().toLocaleTimeString() }) });
    }

    // At most ten status updates a second: in a burst each update costs more than a send, and the
    // editor could not show them faster anyway. The last state is always shown.
    function showStatus() {
      if (statusTimer) {
        statusStale = true;
        return;
      }
      paintStatus();
      statusTimer = setTimeout(() => {
        statusTimer = undefined;
        if (statusStale) {
          statusStale = false;
          showStatus();
        }
      }, 100);
    }

    /** Sends one msg, keeping the status up to date. */
    function run(msg: NodeMessage): Promise<Result> {
      sending++;
      showStatus();
      return deliver(msg).then(
        (result) => {
          sending--;
          lastError = undefined;
          lastPreview = (result as PreviewResult).preview === true;
          showStatus();
          return result;
        },
        (e) => {
          sending--;
          // The mail stays in the outbox (redeploy, stop): no failure, its outcome comes later.
          if (!isDeferred(e)) lastError = asMailError(e);
          showStatus();
          throw e;
        },
      );
    }

    /** Node-RED's parse of the Result key as store() will use it; a context key may name its store ("#:(file)::result"). */
    const parseKey = (msg?: NodeMessage) => (key: string) =>
      storeResult === 'msg'
        ? RED.util.normalisePropertyExpression(key, msg)
        : RED.util.normalisePropertyExpression(RED.util.parseContextStore(key).key);
    const storesResult = storeResult === 'msg' || storeResult === 'flow' || storeResult === 'global';
    const badKey = storesResult ? resultKeyError(resultKey, parseKey()) : undefined;
    if (badKey) {
      lastError = badKey;
      node.error(reportable(badKey, say));
      paintStatus();
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
      const refused = badKey || (storeResult === 'msg' ? resultKeyError(resultKey, parseKey(msg)) : undefined);
      if (refused) {
        lastError = refused;
        showStatus();
        return done(reportable(refused, say));
      }
      if (def.async) {
        send(msg);
        done();
        track(
          run(msg).then(
            (result) => store(msg, result),
            (err: MailError) => {
              if (isDeferred(err)) return;
              if (storeResult === 'flow' || storeResult === 'global') store(msg, failureResult(localized(err, say)));
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
          store(msg, result);
          send(msg);
          done();
        },
        (err: MailError) => {
          // Accepted into the outbox: the msg ends here, its outcome is reported as in async mode.
          if (isDeferred(err)) return done();
          if (stopOnError) return done(reportable(err, say));
          store(msg, failureResult(localized(err, say)));
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
        const context = storeResult === 'flow' || storeResult === 'global';
        if ('info' in outcome) {
          const result = withWarnings(successResult(outcome.info), undelivered(outcome.info));
          if (context) store(msg, result);
          lastError = undefined;
          lastPreview = false;
          node.log(
            RED._('send-smtp-email.log.sentFromOutbox', {
              subject: record.summary.subject,
              to: record.summary.to,
              messageId: result.messageId,
            }),
          );
        } else {
          const err = asMailError(outcome.error);
          if (context) store(msg, failureResult(localized(err, say)));
          lastError = err;
          node.error(reportable(err, say), msg);
        }
        showStatus();
      },
    };
    Object.assign(node, receiver);
    const unwatch = configNode?.watchOutbox?.(node.id, (count) => {
      if (count === inOutbox) return;
      inOutbox = count;
      showStatus();
    });

    // Node-RED waits for this (up to its close time-out) before it stops the flow.
    node.on('close', (_removed: boolean, done: () => void) => {
      unwatch?.();
      // Msgs whose mails wait in the outbox end now, accepted; the mails are sent all the same.
      configNode?.releaseOutbox?.(node.id);
      const finished = () => {
        clearTimeout(statusTimer);
        node.status({});
        done();
      };
      Promise.allSettled([...active]).then(finished, finished);
    });
  }
  RED.nodes.registerType('send-smtp-email', SendSmtpEmail);
};

function asMailError(e: unknown): MailError {
  // Something not an Error (a string thrown by other code): its words as they are.
  return e instanceof Error ? (e as MailError) : Object.assign(new Error(String(e)), { code: ErrorCodes.EINPUT });
}

/**
 * The error as Catch nodes receive it, in the user's language: msg.error keeps only message and
 * code, so the hint goes into the message.
 */
function reportable(error: MailError & { attempts?: number }, say: Say): MailError {
  const err = localized(error, say);
  const out: MailError = new Error(withHint(err));
  for (const key of ['code', 'responseCode', 'command', 'hint', 'attempts'] as const)
    if (err[key] !== undefined) (out as unknown as Record<string, unknown>)[key] = err[key];
  // Node-RED gives Catch nodes String(err) as msg.error.message: the message alone, as the stored
  // result has it, not "Error: " before it.
  Object.defineProperty(out, 'toString', { value: () => out.message });
  return out;
}

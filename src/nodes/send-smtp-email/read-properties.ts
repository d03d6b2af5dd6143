import type { Node, NodeAPI, NodeMessage } from 'node-red';
import { ErrorCodes, mailError } from '../../lib/errors/errors';
import { renderTemplate, type TemplateScopes } from '../../lib/message/templates';
import { text, type Text } from '../../lib/errors/texts';
import {
  defaultValueType as defaultType,
  MAX_RECIPIENTS,
  TYPED_PROPERTIES as TYPED,
  typeKey,
  type TypedProperty as TypedName,
} from '../../shared/constants';

/** Typed properties whose `str` value is a mustache template. */
const TEMPLATES: Partial<Record<TypedName, 'html' | 'plain'>> = { subject: 'plain', html: 'html', text: 'plain' };

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

/** Types whose value may come from an asynchronous context store or expression. */
const ASYNC_TYPES = new Set(['flow', 'global', 'jsonata']);

export type PropertyValues = Record<TypedName, unknown>;

/**
 * Reads the send node's typed properties for one msg: each value as its type gives it (a msg
 * property, context, env, JSONata), and `str` subjects and bodies rendered as templates.
 */
export function propertyReader(RED: NodeAPI, node: Node, def: Record<string, unknown>): (msg: NodeMessage) => Promise<PropertyValues> {
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

  return async (msg) => {
    const values = {} as PropertyValues;
    for (const name of TYPED) {
      let value = evaluate(name, msg);
      if (value instanceof Promise) value = await value;
      const template = TEMPLATES[name];
      if (template && typeof value === 'string' && (def[typeKey(name)] || 'str') === 'str') {
        value = renderTemplate(value, msg, scopes, template === 'html');
      }
      values[name] = value;
    }
    return values;
  };
}

/**
 * Recipients per mail: settings.js `smtpOauthConfigMaxRecipients` (a whole number from 1) raises
 * the default for a private relay that takes more than the providers do; anything else is ignored.
 */
export function maxRecipients(RED: NodeAPI): number {
  const set = Number((RED.settings as { smtpOauthConfigMaxRecipients?: unknown }).smtpOauthConfigMaxRecipients);
  return Number.isInteger(set) && set >= 1 ? set : MAX_RECIPIENTS;
}

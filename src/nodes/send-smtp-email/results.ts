import type { Node, NodeAPI, NodeMessage } from 'node-red';
import { ErrorCodes, type MailError } from '../../lib/errors/errors';
import { failureResult, type FailureResult, type PreviewResult, type SuccessResult } from '../../lib/message/message';
import { resultKeyError } from '../../lib/message/result-key';
import { localized, withHint, type Say } from '../../lib/errors/translate';
import type { StoreTarget } from '../../shared/constants';

export type Result = SuccessResult | PreviewResult | FailureResult;

/** Where the node stores its results (the `storeResult` and `resultKey` properties). */
export interface ResultStore {
  /** Whether results go to flow or global context, where a msg that no longer waits can still leave its result. */
  readonly inContext: boolean;
  store(msg: NodeMessage, result: Result): void;
  /** Why the Result key cannot be used, for this msg (a key such as results[msg.topic] parses only when msg.topic exists) or for any. */
  keyError(msg?: NodeMessage): MailError | undefined;
}

export function resultStore(RED: NodeAPI, node: Node, storeResult: StoreTarget, resultKey: string): ResultStore {
  /** Node-RED's parse of the Result key as store() will use it; a context key may name its store ("#:(file)::result"). */
  const parseKey = (msg?: NodeMessage) => (key: string) =>
    storeResult === 'msg'
      ? RED.util.normalisePropertyExpression(key, msg)
      : RED.util.normalisePropertyExpression(RED.util.parseContextStore(key).key);
  const inContext = storeResult === 'flow' || storeResult === 'global';
  return {
    inContext,
    store(msg, result) {
      if (storeResult === 'msg') RED.util.setMessageProperty(msg, resultKey, result, true);
      else if (storeResult === 'flow') node.context().flow.set(resultKey, result);
      else if (storeResult === 'global') node.context().global.set(resultKey, result);
    },
    keyError(msg) {
      if (msg) return storeResult === 'msg' ? resultKeyError(resultKey, parseKey(msg)) : undefined;
      return storeResult === 'msg' || inContext ? resultKeyError(resultKey, parseKey()) : undefined;
    },
  };
}

/** The failure result of a send, in the user's language. */
export const failure = (err: MailError, say: Say): FailureResult => failureResult(localized(err, say));

export function asMailError(e: unknown): MailError {
  // Something not an Error (a string thrown by other code): its words as they are.
  return e instanceof Error ? (e as MailError) : Object.assign(new Error(String(e)), { code: ErrorCodes.EINPUT });
}

/**
 * The error as Catch nodes receive it, in the user's language: msg.error keeps only message and
 * code, so the hint goes into the message.
 */
export function reportable(error: MailError & { attempts?: number }, say: Say): MailError {
  const err = localized(error, say);
  const out: MailError = new Error(withHint(err));
  for (const key of ['code', 'responseCode', 'command', 'hint', 'attempts'] as const)
    if (err[key] !== undefined) (out as unknown as Record<string, unknown>)[key] = err[key];
  // Node-RED gives Catch nodes String(err) as msg.error.message: the message alone, as the stored
  // result has it, not "Error: " before it.
  Object.defineProperty(out, 'toString', { value: () => out.message });
  return out;
}

import { ErrorCodes, mailError, type MailError } from '../errors/errors';
import { text } from '../errors/texts';

/**
 * Why a Result key cannot hold the result, or undefined when it can. `parse` is Node-RED's own
 * property parser (RED.util.normalisePropertyExpression), given the msg when there is one: a key
 * such as `results[msg.topic]` parses only for a msg that has the property it names. The check runs
 * before a send, as a key found bad afterwards fails a msg whose mail already went out and a flow
 * that retries it sends the mail twice.
 */
export function resultKeyError(key: string, parse: (key: string) => unknown): MailError | undefined {
  try {
    parse(key);
    return undefined;
  } catch (e) {
    // The reason is Node-RED's own words, as its parser gives them.
    return mailError(ErrorCodes.ECONFIG, text('errors.resultKey', { key, reason: (e as Error).message }), text('hints.resultKey'));
  }
}

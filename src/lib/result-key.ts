import { ErrorCodes, mailError, type MailError } from './errors';

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
    return mailError(ErrorCodes.ECONFIG, `Result key "${key}" is not a valid property: ${(e as Error).message}`, 'Set Result key to a property path such as emailResult or result.mail.');
  }
}

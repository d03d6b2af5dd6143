// How an attempt's failure ends a mail, whichever queue made the attempt: the error a failed mail
// rejects with, the warning for recipients given up, and a transient failure as a record keeps it.
import type { AuthType } from '../../shared/constants';
import { diagnose, hintTextFor } from '../errors/diagnose';
import { ErrorCodes, hintOf, mailError, messageOf, setHint, setMessage, type MailError } from '../errors/errors';
import { isText, text, type Text } from '../errors/texts';
import { isTransient, type RetryableError } from '../errors/transient';
import type { LastError, Outcome, SendError } from './outcome';
import { maskError } from './privacy';
import { owedOf, type RecipientProgress, type Recipients } from './recipients';
import { MAX_ATTEMPTS } from './retry';
import type { MailRecord } from './store';

/** What the verdicts depend on: how long mails are retried (0: never) and the connection's authentication. */
export interface Policy {
  retryMs: number;
  authType?: AuthType;
}

const firstLine = (answer: string) => answer.split('\n')[0].trim();
const clock = (ms: number) => new Date(ms).toTimeString().slice(0, 5);
export const seconds = (ms: number) => Math.round(ms / 1000);

/** The failure of a mail deleted in the Outbox tab before anyone had it. */
export const deletedError = (attempts: number): SendError =>
  Object.assign(mailError(ErrorCodes.EOUTBOX, text('errors.outbox.deleted'), text('hints.outbox.deleted')), { attempts });

/** A transient failure as a record keeps it: with the hint the user would get, and no address the message hides. */
export function describeError(err: RetryableError, record: Pick<MailRecord, 'customFrom' | 'shown'>, policy: Policy): LastError {
  const out: LastError = { message: err.message };
  if (err.messageKey) setMessage(out, text(err.messageKey, err.params), err.message);
  if (err.code) out.code = err.code;
  if (err.responseCode) out.responseCode = err.responseCode;
  // The error's own hint first, as diagnose() does for a failure.
  const hint = hintOf(err) ?? hintTextFor(err, { authType: policy.authType, customFrom: record.customFrom });
  if (isText(hint)) setHint(out, hint);
  else if (hint) out.hint = hint;
  return maskError(out, record.shown ?? []);
}

/** Why a mail waits, said on its first wait: its last error, the hint for it, and until when it is retried. */
export function waitingWarning(record: MailRecord, until: number): Text {
  const last = record.lastError!;
  const hint = hintOf(last);
  return text(hint ? 'warnings.waiting' : 'warnings.waitingNoHint', {
    subject: record.summary.subject,
    error: messageOf(last),
    ...(hint ? { hint } : {}),
    until: clock(until),
  });
}

/** The error a mail ends with: diagnosed, with the attempts, and why it ended when retries were possible. */
export function failure(err: RetryableError, attempts: number, customFrom: boolean | undefined, policy: Policy, why?: Text): SendError {
  if (why) setMessage(err, text('errors.withReason', { error: messageOf(err), reason: why }));
  const out = diagnose(err as MailError, { authType: policy.authType, customFrom, noRetry: !policy.retryMs }) as SendError;
  out.attempts = attempts;
  delete (out as RetryableError).transient;
  delete (out as RetryableError).retryAfterMs;
  delete (out as RetryableError).retryAtOnce;
  return out;
}

/**
 * Why a failed attempt is the last one as far as time and count go: a reason to add to its message,
 * null when the error speaks for itself (not retryable, or retries off), undefined when it may go on.
 */
export function outOfTime(err: RetryableError, attempts: number, elapsed: number, policy: Policy): Text | null | undefined {
  if (!policy.retryMs || !isTransient(err)) return null;
  if (elapsed >= policy.retryMs || attempts >= MAX_ATTEMPTS)
    return text('errors.retry.gaveUp', { count: attempts, seconds: seconds(elapsed) });
  return undefined;
}

/**
 * The end of a mail that is not retried (any more): a failure when the server accepted it for
 * nobody; else a success for the recipients that have it, with a warning for each answer that
 * kept others from it, saying why they were given up.
 */
export function ending(
  recipients: Recipients,
  err: RetryableError,
  attempts: number,
  customFrom: boolean | undefined,
  policy: Policy,
  why?: Text,
): Outcome {
  if (!recipients.delivered) return { error: failure(err, attempts, customFrom, policy, why) };
  // Without a reason of its own, the answer spoke for itself: retries are off, or it is permanent.
  const reason = why ?? text(policy.retryMs ? 'errors.retry.permanent' : 'errors.retry.off');
  const warnings = recipients.undelivered(err).map((u) => notDelivered(u.recipients, u.error, customFrom, policy, reason));
  return { info: recipients.result(attempts, warnings) };
}

/** The warning for recipients given up: who, the server's answer, why no further attempt, and the hint for that answer. */
function notDelivered(to: string[], err: RetryableError, customFrom: boolean | undefined, policy: Policy, reason: Text): Text {
  const answer = err.response ? firstLine(err.response) : messageOf(err);
  const hint =
    hintTextFor(err, { authType: policy.authType, customFrom, noRetry: !policy.retryMs }) ?? hintOf(err) ?? text('hints.send.notDelivered');
  return text('warnings.notDelivered', { recipients: to.join(', '), answer, reason, hint });
}

/**
 * The record of a mail whose recipients an attempt split: its envelope holds only the recipients
 * still owed, so that a restart never sends it again to those that have it; the progress keeps
 * what the result reports (every recipient, who accepted, who refused).
 */
export function owing(record: MailRecord, progress: RecipientProgress | undefined): MailRecord {
  if (!progress) return record;
  return { ...record, envelope: { ...record.envelope, to: owedOf(progress) }, progress };
}

import { EENVELOPE } from 'nodemailer/lib/errors';
import { isTransient, type RetryableError } from '../errors/transient';
import type { Delivery, Envelope, RecipientError } from '../transports/transport';
import type { Text } from '../errors/texts';

/**
 * How far a message got with its recipients once an attempt split them: the server took it for
 * some, refused some for good (5yz) and deferred the others (a 4yz answer to RCPT TO, RFC 5321
 * §4.2.1: greylisting, a full mailbox). The outbox keeps it in the mail's record, so that after a
 * restart the mail goes only to the recipients still owed, never again to those that have it.
 */
export interface RecipientProgress {
  /** Every recipient of the envelope, as the attempt that first split them had them. */
  to: string[];
  /** Accepted by any attempt so far. */
  accepted: string[];
  /** Refused for good. */
  rejected: string[];
  /** The server's answer to the last attempt it accepted the message in. */
  response?: string;
}

export type { RecipientError };

/** What one attempt decided about the recipients it was sent to. */
export interface Verdict {
  accepted: string[];
  /** Refused for good. */
  rejected: string[];
  /** Deferred (4yz), each with its answer. */
  deferred: RecipientError[];
}

type Info = Delivery;

/** Of the refusals of an attempt, the deferred ones: a later attempt may get them through. */
const deferredOf = (errors: RecipientError[] | undefined): RecipientError[] =>
  (errors ?? []).filter((e) => !!e.recipient && isTransient(e));

/** The verdict of an attempt the server accepted: nodemailer lists the recipients it refused, each with its answer. */
export function verdictOfSent(info: Info): Verdict {
  const deferred = deferredOf(info.rejectedErrors as RecipientError[] | undefined);
  const later = new Set(deferred.map((e) => e.recipient));
  return { accepted: [...(info.accepted ?? [])], rejected: (info.rejected ?? []).filter((r) => !later.has(r)), deferred };
}

/**
 * The verdict of an attempt that failed because the server refused every recipient at RCPT TO
 * (nodemailer's EENVELOPE, with each refusal); undefined for any other failure, which decides
 * nothing about the recipients.
 */
export function verdictOfRefusal(err: RetryableError & { rejected?: string[]; rejectedErrors?: RecipientError[] }): Verdict | undefined {
  if (err.code !== EENVELOPE || err.command !== 'RCPT TO' || !err.rejectedErrors?.length) return undefined;
  const deferred = deferredOf(err.rejectedErrors);
  const later = new Set(deferred.map((e) => e.recipient));
  return { accepted: [], rejected: (err.rejected ?? []).filter((r) => !later.has(r)), deferred };
}

/** The progress after an attempt to `to` with this verdict. */
export function advance(progress: RecipientProgress | undefined, to: string[], verdict: Verdict, response?: string): RecipientProgress {
  const out: RecipientProgress = {
    to: progress ? [...progress.to] : [...to],
    accepted: [...(progress?.accepted ?? []), ...verdict.accepted],
    rejected: [...(progress?.rejected ?? []), ...verdict.rejected],
  };
  const last = response ?? progress?.response;
  if (last !== undefined) out.response = last;
  return out;
}

/** The recipients still owed: neither accepted nor refused for good. */
export function owedOf(progress: RecipientProgress): string[] {
  const settled = new Set([...progress.accepted, ...progress.rejected]);
  return progress.to.filter((r) => !settled.has(r));
}

/** Whether a value read from disk is a progress (a record written by this version). */
export function isProgress(value: unknown): value is RecipientProgress {
  const p = value as RecipientProgress;
  const strings = (a: unknown) => Array.isArray(a) && a.every((s) => typeof s === 'string');
  return !!p && strings(p.to) && strings(p.accepted) && strings(p.rejected) && (p.response === undefined || typeof p.response === 'string');
}

/**
 * The recipients of one send over its attempts. Until an attempt splits them every attempt goes to
 * the whole envelope, as before; after one the server accepted for some and deferred others, the
 * next attempts send the same message (the same bytes, the same Message-ID) to the deferred ones
 * only, and the send's result adds up what all attempts decided.
 */
export class Recipients {
  private progress?: RecipientProgress;
  /** The last attempt the server accepted the message in, in this run. */
  private last?: Info;
  /** The envelope's sender, for a result without an accepted attempt in this run (a mail resumed after a restart). */
  private from: string | false = '';
  /** The latest error of each recipient still owed: what the warning says when they are given up. */
  private readonly errors = new Map<string, RetryableError>();

  constructor(progress?: RecipientProgress) {
    this.progress = progress;
  }

  /** The progress once an attempt split the recipients (the outbox writes it to the record); undefined before. */
  get state(): RecipientProgress | undefined {
    return this.progress;
  }

  /** Whether an attempt split the recipients and the server accepted the message for any of them. */
  get delivered(): boolean {
    return !!this.progress?.accepted.length;
  }

  /** The envelope of the next attempt: after a split, to the recipients still owed only, from the same sender. */
  narrow(envelope: Envelope): Envelope {
    this.from = envelope.from;
    return this.progress ? { from: envelope.from, to: owedOf(this.progress) } : envelope;
  }

  /**
   * Takes in an attempt the server accepted. Returns the error that stands for the recipients it
   * deferred (the first one's answer), or undefined when no recipient is owed any more.
   */
  sent(info: Info): RecipientError | undefined {
    const verdict = verdictOfSent(info);
    this.last = info;
    if (!this.progress && !verdict.deferred.length) return undefined;
    this.record(info.envelope?.to ?? [...verdict.accepted, ...verdict.rejected], verdict, info.response);
    return verdict.deferred[0];
  }

  /**
   * Takes in a failed attempt. A refusal of every recipient splits them like an accepted attempt
   * (the deferred ones are tried again, those refused for good not); any other failure leaves them
   * owed, with that error. Returns whether no recipient is owed any more.
   */
  failed(err: RetryableError): boolean {
    const verdict = verdictOfRefusal(err);
    if (!verdict) {
      for (const r of this.owed()) this.errors.set(r, err);
      return false;
    }
    this.record((err as { rejected?: string[] }).rejected ?? [], verdict);
    return this.owed().length === 0;
  }

  private record(to: string[], verdict: Verdict, response?: string) {
    this.progress = advance(this.progress, to, verdict, response);
    for (const r of [...verdict.accepted, ...verdict.rejected]) this.errors.delete(r);
    for (const e of verdict.deferred) this.errors.set(e.recipient!, e);
  }

  private owed(): string[] {
    return this.progress ? owedOf(this.progress) : [];
  }

  /**
   * The recipients still owed, grouped by their last error (one warning each when they are given
   * up); `last`, the send's last error, for one without an error of its own.
   */
  undelivered(last: RetryableError): { recipients: string[]; error: RetryableError }[] {
    const groups = new Map<string, { recipients: string[]; error: RetryableError }>();
    for (const r of this.owed()) {
      const error = this.errors.get(r) ?? last;
      const key = `${error.response ?? ''}\n${error.message}`;
      const group = groups.get(key) ?? { recipients: [], error };
      group.recipients.push(r);
      groups.set(key, group);
    }
    return [...groups.values()];
  }

  /**
   * What the send resolves with: the last accepted attempt's info as it is when no attempt split
   * the recipients; else the sum of all attempts: every recipient accepted, those refused for good
   * and those still owed as rejected, and the envelope with every recipient of the mail.
   */
  result(attempts: number, warnings: Text[] = []): Info & { attempts: number; warnings?: Text[] } {
    const p = this.progress;
    const last =
      this.last ?? ({ messageId: '', response: '', accepted: [], rejected: [], envelope: { from: this.from, to: [] } } as unknown as Info);
    if (!p) return Object.assign(last, { attempts });
    const { rejectedErrors: _each, ...info } = last;
    return {
      ...info,
      accepted: [...p.accepted],
      rejected: [...p.rejected, ...owedOf(p)],
      response: p.response ?? last.response,
      envelope: { ...last.envelope, to: [...p.to] },
      attempts,
      ...(warnings.length ? { warnings } : {}),
    };
  }
}

import { Readable } from 'node:stream';
import { textError } from '../errors/errors';
import { text } from '../errors/texts';
import type { AddOptions, Found, MailRecord, NewMail, Store } from './store';

/**
 * Mails that wait in memory: gone with the process, so a closing queue fails them (it never drops
 * one silently). A message that streams from a download is not buffered: it is read once, by the
 * attempt that gets to DATA (see Loan).
 */
export class MemoryStore implements Store {
  readonly durable = false;
  private readonly records = new Map<string, MailRecord>();
  private readonly bodies = new Map<string, Buffer | OneShot>();

  async open(): Promise<Found> {
    return { pending: [], damaged: [], removedTemps: 0, skipped: [] };
  }

  async add(fields: NewMail, message: Readable | Buffer, options: AddOptions): Promise<MailRecord> {
    const record: MailRecord = {
      id: options.id,
      created: options.now ?? Date.now(),
      size: Buffer.isBuffer(message) ? message.length : 0,
      ...fields,
    };
    this.records.set(record.id, record);
    this.bodies.set(record.id, Buffer.isBuffer(message) ? message : new OneShot(message));
    return record;
  }

  async update(record: MailRecord): Promise<void> {
    if (this.records.has(record.id)) this.records.set(record.id, record);
  }

  async remove(id: string): Promise<void> {
    const body = this.bodies.get(id);
    if (body instanceof OneShot) body.source.destroy();
    this.records.delete(id);
    this.bodies.delete(id);
  }

  list(): MailRecord[] {
    return [...this.records.values()];
  }

  body(id: string): Buffer | Readable {
    const body = this.bodies.get(id);
    if (!body) throw textError(text('errors.attachment.streamClosed'));
    return Buffer.isBuffer(body) ? body : body.lend();
  }

  reusable(id: string): boolean {
    const body = this.bodies.get(id);
    return !(body instanceof OneShot) || body.reusable();
  }

  release(): void {}
}

/**
 * A message that streams from its downloads. nodemailer destroys the stream of a send that failed,
 * and reads it only once; so each pass gets a stand-in that starts reading the real stream only when
 * nodemailer reads it: a pass that failed before DATA leaves the download untouched for the next.
 */
class OneShot {
  private readonly loans: Loan[] = [];

  constructor(readonly source: Readable) {
    // A download that fails while the mail waits would otherwise be an uncaught 'error'.
    source.on('error', () => undefined);
  }

  lend(): Readable {
    const loan = new Loan(this.source);
    this.loans.push(loan);
    return loan;
  }

  reusable(): boolean {
    return this.loans.every((l) => !l.started) && !this.source.destroyed && !this.source.readableEnded;
  }
}

/** A stand-in for a stream that reads it only once read itself, and leaves it alone if never read. */
class Loan extends Readable {
  started = false;
  private readonly onData = (chunk: Buffer) => {
    if (!this.push(chunk)) this.source.pause();
  };
  private readonly onEnd = () => this.push(null);
  private readonly onError = (err: Error) => this.destroy(err);

  constructor(private readonly source: Readable) {
    super();
  }

  override _read(): void {
    if (!this.started) {
      this.started = true;
      if (this.source.destroyed) return void this.destroy(this.source.errored || textError(text('errors.attachment.streamClosed')));
      this.source.on('data', this.onData).once('end', this.onEnd).once('error', this.onError);
    }
    this.source.resume();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.source.off('data', this.onData).off('end', this.onEnd).off('error', this.onError);
    // Half read, the source is of no use to anyone any more.
    if (this.started && !this.source.readableEnded) this.source.destroy();
    cb(err);
  }
}

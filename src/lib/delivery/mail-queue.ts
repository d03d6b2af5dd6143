import type Mail from 'nodemailer/lib/mailer';
import type { HandedOver, Origin, OutboxControl, SentInfo, Watch } from './outcome';

/**
 * What a connection's queue offers, wherever its mails wait: DeliveryQueue (memory or a folder on
 * disk, one Node-RED) or SharedQueue (Redis, every Node-RED that runs the connection).
 */
export interface MailQueue extends OutboxControl {
  /** Takes a mail and resolves with the server's answer, or HandedOver when its msg ends first; rejects with the failure. */
  accept(message: Mail.Options, customFrom: boolean, watch?: Watch, origin?: Origin): Promise<SentInfo | HandedOver>;
  /** Starts sending what waits from earlier (once the flows run). */
  resume(): void;
  /** A send node closes: its msgs still waiting end now, handed over. */
  release(node: string): void;
  /** Stops: attempts under way get `graceMs`; waiting mails stay (durable) or fail (memory). */
  close(graceMs: number): Promise<void>;
  /** Mails waiting for their turn under the rate limit. */
  readonly waiting: number;
  /** Mails waiting for their next attempt. */
  readonly retrying: number;
  /** Mails whose msg no longer waits for them, of one send node. */
  countFor(node: string): number;
}

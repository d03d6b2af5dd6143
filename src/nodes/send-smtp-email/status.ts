import type { Node, NodeAPI } from 'node-red';
import type { MailError } from '../../lib/errors/errors';

type Counted = 'sending' | 'queued' | 'retrying' | 'outbox';

/**
 * The send node's status: what is in flight, queued, retrying or waiting in the outbox, else the
 * last error, else the time of the last success. The node changes the counts and calls show().
 */
export class SendStatus {
  sending = 0;
  /** Of those, how many wait for their turn under the connection's rate limit. */
  waiting = 0;
  /** Of those, how many wait for their next attempt after a transient failure. */
  retrying = 0;
  /** This node's mails in the connection's outbox whose msg no longer waits (after a restart or redeploy). */
  inOutbox = 0;
  /** The code of the error the last mail that started waiting for a retry got: the status shows why mails wait. */
  retryCode: string | undefined;
  /** The error of the last send, while no later send succeeded. */
  lastError: MailError | undefined;
  /** Whether the last success was a preview: nothing was sent, so the status must not say "sent". */
  lastPreview = false;

  // Status texts by count: translating on every send (i18next resolves plural rules each time)
  // took a sixth of the node's CPU time at 1000 messages per second.
  private readonly labels = new Map<string, string>();
  private timer: NodeJS.Timeout | undefined;
  private stale = false;

  constructor(
    private readonly RED: NodeAPI,
    private readonly node: Node,
  ) {}

  private label(key: Counted, count: number): string {
    const id = `${key}:${count}`;
    let text = this.labels.get(id);
    if (text === undefined) {
      if (this.labels.size >= 200) this.labels.clear();
      text = this.RED._(`send-smtp-email.status.${key}`, { count });
      this.labels.set(id, text);
    }
    return text;
  }

  paint(): void {
    const { node } = this;
    // A send waiting for a retry is what the user most needs to know about.
    if (this.retrying > 0) {
      // How many wait, and why (the code of the last one's error): "retry 2: ECONNECTION", under 20 characters.
      const text = this.retryCode
        ? this.RED._('send-smtp-email.status.retry', { count: this.retrying, code: this.retryCode })
        : this.label('retrying', this.retrying);
      node.status({ fill: 'yellow', shape: 'ring', text });
    } else if (this.waiting > 0) node.status({ fill: 'blue', shape: 'ring', text: this.label('queued', this.waiting) });
    else if (this.sending > 0) node.status({ fill: 'blue', shape: 'dot', text: this.label('sending', this.sending) });
    // Mails of this node that wait in the outbox since a restart or redeploy.
    else if (this.inOutbox > 0) node.status({ fill: 'blue', shape: 'ring', text: this.label('outbox', this.inOutbox) });
    else if (this.lastError) node.status({ fill: 'red', shape: 'ring', text: String(this.lastError.code || 'error').slice(0, 19) });
    else if (this.lastPreview) node.status({ fill: 'grey', shape: 'dot', text: this.RED._('send-smtp-email.status.preview') });
    else
      node.status({
        fill: 'green',
        shape: 'dot',
        text: this.RED._('send-smtp-email.status.sent', { time: new Date().toLocaleTimeString() }),
      });
  }

  // At most ten status updates a second: in a burst each update costs more than a send, and the
  // editor could not show them faster anyway. The last state is always shown.
  show(): void {
    if (this.timer) {
      this.stale = true;
      return;
    }
    this.paint();
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.stale) {
        this.stale = false;
        this.show();
      }
    }, 100);
  }

  /** The node closes: no update after this. */
  clear(): void {
    clearTimeout(this.timer);
    this.node.status({});
  }
}

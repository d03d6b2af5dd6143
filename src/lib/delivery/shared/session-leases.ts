import type { Redis } from 'ioredis';
import { ECONNECTION } from 'nodemailer/lib/errors';
import { setHint, textError } from '../../errors/errors';
import { text, type Text } from '../../errors/texts';
import type { RetryableError } from '../../errors/transient';
import type { Delivery, Outgoing, Transport } from '../../transports/transport';

/** How long a lease lives unless renewed: the sessions of an instance that died are free again after it. */
export const LEASE_MS = 15000;
/**
 * An idle session waits this long for the instance's next mail before it ends and its lease goes
 * back: in a burst the next mail comes within a Redis round trip; under a rate limit, SharedQueue
 * asks for as long as the pace between two mails, so that paced mails share one login.
 */
export const LINGER_MS = 50;
/** How often an instance that waits for a session asks again. */
const POLL_MS = 10;
/** How long an attempt waits for a session before it fails (transient): a dead instance's leases expire well within it. */
const WAIT_MS = 2 * LEASE_MS;

// KEYS[1]: the lease keys' prefix, KEYS[2]: the shared limit; ARGV: pool size, token, lease ms,
// then the indexes this instance holds. A lease with this instance's token that it no longer holds
// (its release was lost while Redis was away) is free to it.
const ACQUIRE = `
local n = tonumber(redis.call('get', KEYS[2]) or ARGV[1])
local mine = {}
for j = 4, #ARGV do mine[ARGV[j]] = true end
for i = 0, n - 1 do
  local holder = redis.call('get', KEYS[1] .. i)
  if not holder or (holder == ARGV[2] and not mine[tostring(i)]) then
    redis.call('set', KEYS[1] .. i, ARGV[2], 'PX', ARGV[3])
    return i
  end
end
return -1`;
// KEYS[1]: a lease; ARGV: token, lease ms (renew) or nothing (release).
const RENEW = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0`;
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0`;

interface Session {
  index: number;
  transport: Transport;
  /** Ends an idle session once no mail of this instance came for it. */
  timer?: NodeJS.Timeout;
  /** Its lease expired (Redis was away longer than a lease lives): it ends after its attempt. */
  lost?: boolean;
}

/**
 * The SMTP sessions of one instance, each held under one of the connection's `size` leases in
 * Redis, so that every instance together never has more sessions open than the pool size (Exchange
 * Online refuses a fourth with 432 4.3.2). A session is one single-connection transport: kept open
 * while this instance has mails for it, ended and its lease given back when it idles, so that
 * another instance can take the lease. A lease lapses if not renewed: a dead instance frees its
 * sessions after LEASE_MS, as its server connections closed with it.
 */
export class SessionLeases implements Transport {
  private readonly idle: Session[] = [];
  /** Attempts of this instance waiting for a session, oldest first: a session given back goes to the first at once. */
  private readonly waiting: ((session: Session) => void)[] = [];
  private readonly held = new Set<Session>();
  private renewal?: NodeJS.Timeout;
  private closed = false;

  constructor(
    private readonly redis: () => Promise<Redis>,
    private readonly keys: { lease: string; limit: string },
    readonly poolSize: number,
    /** A transport with one connection, for one session. */
    private readonly open: () => Transport,
    private readonly token: string,
    private readonly lingerMs = LINGER_MS,
  ) {}

  /** The shared queue lets no more attempts start than the pool has sessions. */
  get crowded(): boolean {
    return false;
  }

  async send(mail: Outgoing, signal: AbortSignal): Promise<Delivery> {
    const session = this.idle.pop() ?? (await this.lease(signal));
    clearTimeout(session.timer);
    try {
      return await session.transport.send(mail, signal);
    } finally {
      this.giveBack(session);
    }
  }

  /** Test connection: one session of its own, outside the leases (it sends nothing). */
  async verify(): Promise<Text | undefined> {
    const transport = this.open();
    try {
      return await transport.verify();
    } finally {
      transport.close();
    }
  }

  private giveBack(session: Session) {
    if (this.closed || session.lost) return void this.end(session);
    const next = this.waiting.shift();
    if (next) return next(session);
    this.idle.push(session);
    session.timer = setTimeout(() => void this.end(session), this.lingerMs);
  }

  /** Ends a session and gives its lease back; resolves once Redis took it (an unanswered release only delays the next holder until the lease expires). */
  private end(session: Session): Promise<unknown> {
    clearTimeout(session.timer);
    const i = this.idle.indexOf(session);
    if (i >= 0) this.idle.splice(i, 1);
    this.held.delete(session);
    void session.transport.close();
    if (!this.held.size) this.stopRenewal();
    if (session.lost) return Promise.resolve();
    return this.redis()
      .then((r) => r.eval(RELEASE, 1, this.keys.lease + session.index, this.token))
      .catch(() => {});
  }

  /**
   * A session for an attempt that found none idle: one that another attempt of this instance gives
   * back, or a free lease in Redis (asked again every POLL_MS), whichever comes first; at most WAIT_MS.
   */
  private async lease(signal: AbortSignal): Promise<Session> {
    const redis = await this.redis();
    const until = Date.now() + WAIT_MS;
    let handed: Session | undefined;
    let wake = () => {};
    const take = (session: Session) => {
      handed = session;
      wake();
    };
    this.waiting.push(take);
    try {
      for (;;) {
        if (handed) return handed;
        const mine = [...this.held].map((held) => held.index);
        const index = Number(
          // Redis gone mid-burst: a connection failure of this attempt (retried), not a failure of the mail.
          await redis.eval(ACQUIRE, 2, this.keys.lease, this.keys.limit, this.poolSize, this.token, LEASE_MS, ...mine).catch((e: Error) => {
            throw Object.assign(new Error(e.message), { code: ECONNECTION });
          }),
        );
        if (index >= 0) {
          const session: Session = { index, transport: this.open() };
          this.held.add(session);
          this.startRenewal();
          // Handed one meanwhile as well: that one serves the next attempt.
          if (handed) this.giveBack(handed);
          return session;
        }
        if (handed) return handed;
        if (signal.aborted || this.closed) throw new Error('aborted');
        if (Date.now() >= until) {
          const err: RetryableError = textError(text('errors.outbox.noSession', { seconds: WAIT_MS / 1000, max: this.poolSize }));
          err.code = ECONNECTION;
          throw setHint(err, text('hints.outbox.noSession'));
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, POLL_MS);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    } finally {
      const i = this.waiting.indexOf(take);
      if (i >= 0) this.waiting.splice(i, 1);
    }
  }

  private startRenewal() {
    this.renewal ??= setInterval(() => void this.renew(), LEASE_MS / 3);
  }

  private stopRenewal() {
    clearInterval(this.renewal);
    this.renewal = undefined;
  }

  private async renew() {
    const redis = await this.redis().catch(() => undefined);
    if (!redis) return;
    for (const session of [...this.held]) {
      const kept = await redis.eval(RENEW, 1, this.keys.lease + session.index, this.token, LEASE_MS).catch(() => 1);
      if (kept) continue;
      session.lost = true;
      if (this.idle.includes(session)) void this.end(session);
    }
  }

  /** Ends every session; resolves once their leases are back in Redis, for other instances to take at once. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.held].map((session) => this.end(session)));
  }
}

// No imports: the editor can use these constants as they are.

/**
 * Concurrent SMTP connections a well-known service (a key of nodemailer's services.json) allows
 * per mailbox, where the provider documents a limit. Exchange Online: 3 (learn.microsoft.com,
 * "Exchange Online limits", SMTP AUTH client submission); a fourth login gets
 * `432 4.3.2 Concurrent connections limit exceeded`.
 */
export const POOL_LIMITS: Readonly<Record<string, number>> = Object.freeze({ Outlook365: 3 });

/** The pool size nodemailer gets when the connection sets none. */
export const DEFAULT_POOL_SIZE = 5;

/**
 * The pool size of a connection: the value the user set, else the service's documented limit,
 * else 5. A value the user set is never raised.
 */
export function poolSize(config: { service?: string; maxConnections?: number | string }): number {
  // Numbers edited in the dialog arrive as strings; "" and 0 mean unset.
  const set = parseInt(String(config.maxConnections ?? ''), 10);
  if (set > 0) return set;
  return POOL_LIMITS[config.service || ''] ?? DEFAULT_POOL_SIZE;
}

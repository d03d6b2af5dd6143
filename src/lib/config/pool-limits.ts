import { CONNECTION_DEFAULTS, defaultPoolSize } from '../../shared/constants';

/** The documented limits per service live with the other values the editor shares (Outlook365: 3). */
export { POOL_LIMITS } from '../../shared/constants';

/** The pool size nodemailer gets when the connection sets none. */
export const DEFAULT_POOL_SIZE = CONNECTION_DEFAULTS.maxConnections;

/**
 * The pool size of a connection: the value the user set, else the service's documented limit,
 * else 5. A value the user set is never raised.
 */
export function poolSize(config: { service?: string; maxConnections?: number }): number {
  // 0 (or unset) means: the service's limit.
  return config.maxConnections || defaultPoolSize(config.service);
}

// The config node's shape as the send node sees it. Kept apart from smtp-oauth-config.ts because a
// module with `export =` may export nothing else, not even a type (TypeScript 6 error TS2309).
import type { Node } from 'node-red';
import type { Connection } from '../../lib/connection';
import type { ConnectionConfig, ConnectionCredentials } from '../../lib/transport-options';

export interface SmtpOauthConfigNode extends Node<ConnectionCredentials> {
  /** The deployed settings, checked; undefined when they are invalid. */
  settings?: ConnectionConfig;
  /** The connection, created on first use so that deploying opens no socket; throws ECONFIG for invalid settings. */
  connection(): Connection;
}

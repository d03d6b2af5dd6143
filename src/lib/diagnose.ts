import { EAUTH, ECONNECTION, EDNS, EENVELOPE, ESOCKET, ETIMEDOUT } from 'nodemailer/lib/errors';
import { M365_SCOPE } from '../shared/constants';
import { ErrorCodes, type MailError } from './errors';

/** What the diagnosis knows about the connection besides the error itself. */
export interface DiagnoseContext {
  authType?: string;
  /** A custom From that differs from the connection's user. */
  customFrom?: boolean;
  /** Nothing was retried: Test connection, or a connection with retries off. */
  noRetry?: boolean;
}

interface Rule {
  match: (text: string, err: MailError, ctx: DiagnoseContext) => boolean;
  hint: string | ((ctx: DiagnoseContext) => string);
}

const TOKEN_URL = 'https://login.microsoftonline.com/{tenant_id}/oauth2/v2.0/token';
/** A 4xx SMTP answer (RFC 5321 §4.2.1: transient negative completion). */
const isTemporary = (t: string, e: MailError) => e.code !== ErrorCodes.EOAUTH2 && ((e.responseCode !== undefined && e.responseCode >= 400 && e.responseCode < 500) || /^4\d\d\b/.test(t));
/** What a send does about a temporary answer, unless nothing was retried. */
const retried = (ctx: DiagnoseContext, what: string) => (ctx.noRetry ? '' : `: ${what}`);
const oauth = (ctx: DiagnoseContext) => ctx.authType === 'oauth2-client-credentials' || ctx.authType === 'oauth2';

/**
 * The provider answers users meet most (see the troubleshooting table of the reference product),
 * most specific first. Each hint names the cause and the fix; none quotes a secret.
 */
const RULES: Rule[] = [
  // Entra ID token endpoint (AADSTS codes, https://learn.microsoft.com/entra/identity-platform/reference-error-codes)
  { match: (t) => /AADSTS7000215\b/.test(t), hint: 'The client secret is wrong: paste the secret VALUE (not its Secret ID) from Entra ID > App registrations > Certificates & secrets.' },
  { match: (t) => /AADSTS7000222\b/.test(t), hint: 'The client secret has expired: create a new one under Certificates & secrets and update the connection.' },
  { match: (t) => /AADSTS7000216\b/.test(t), hint: 'No client secret was sent: enter the client secret in the connection.' },
  { match: (t) => /AADSTS700016\b/.test(t), hint: 'The application was not found in this tenant: check the Application (client) ID and the tenant in the token URL, and have an admin grant consent so the app has a service principal there.' },
  { match: (t) => /AADSTS90002\b/.test(t), hint: 'The tenant in the token URL does not exist: use the Directory (tenant) ID from the app registration overview.' },
  { match: (t) => /AADSTS900023\b/.test(t), hint: `The tenant part of the token URL is malformed: replace {tenant_id} in ${TOKEN_URL} with your Directory (tenant) ID.` },
  { match: (t) => /AADSTS1002012|AADSTS70011|invalid_scope/.test(t), hint: `The scope is not valid for client credentials: use ${M365_SCOPE} (a resource with /.default).` },
  {
    match: (_t, e) => e.code === ErrorCodes.EOAUTH2 && !!e.responseCode && (e.responseCode === 429 || e.responseCode >= 500),
    hint: (c) => `The token endpoint is overloaded or failing (HTTP 429 or 5xx)${retried(c, 'mails were retried, waiting as long as it asked')}; check the provider's service status if it persists.`,
  },
  { match: (t) => /invalid_client|unauthorized_client/.test(t), hint: 'The token endpoint refused the client: check the client ID and client secret.' },
  // SMTP answers
  { match: (t) => /5\.7\.139/.test(t) && /security defaults/i.test(t), hint: 'Entra security defaults block SMTP AUTH: use OAuth2 client credentials, or have an admin adjust security defaults / conditional access.' },
  { match: (t) => /5\.7\.139/.test(t) && /criteria/i.test(t), hint: 'A conditional access policy refused the sign-in: an admin must allow this app or user.' },
  { match: (t) => /5\.7\.139/.test(t) && /Tenant/.test(t), hint: 'SMTP AUTH is disabled for the whole tenant: an admin enables it in the Exchange admin center (Settings > Mail flow) or for this mailbox.' },
  { match: (t) => /5\.7\.139/.test(t), hint: 'SMTP AUTH is disabled for this mailbox: enable Authenticated SMTP in the Microsoft 365 admin center (user > Mail > Manage email apps).' },
  // Provider limits (Exchange Online limits service description, Gmail sending limits). Tested
  // before the authentication rules: a limit reached at AUTH is not a credentials problem.
  {
    match: (t) => /^432\b/.test(t) && /4\.3\.2|concurrent/i.test(t),
    hint: (c) => `Microsoft 365 allows 3 connections per mailbox; lower Pool size to 3${c.noRetry ? '' : '; mails were retried'}.`,
  },
  { match: (t) => /SubmissionQuotaExceeded/i.test(t), hint: 'The mailbox reached its recipient quota (Microsoft 365: 10,000 recipients in a rolling 24 hours): wait until the window frees up, spread the sending over several mailboxes, or use a bulk-mail service.' },
  { match: (t) => /5\.2\.2\b|ShutoffQuotaExceeded|mailbox full/i.test(t) && !/throttled/i.test(t), hint: 'The sending mailbox is full (every sent mail is also stored in its Sent Items): free space, for example by emptying Sent Items, or raise the mailbox quota.' },
  {
    match: (t) => /5\.2\.25[1-5]/.test(t) && /throttl/i.test(t),
    hint: 'Microsoft 365 throttles this sender after repeated errors of the same kind (5.2.251 mailbox full, 5.2.252 Send As denied, 5.2.253 invalid licence, 5.2.254 too many recipients, 5.2.255 invalid recipients): fix that error first; the throttle lifts after a while.',
  },
  { match: (t) => /4\.5\.3|too many recipients/i.test(t), hint: 'Too many recipients in one message (Microsoft 365 accepts 500, Gmail 100 over SMTP): split the recipients over several messages.' },
  { match: (t) => /5\.4\.5|daily user sending limit/i.test(t), hint: "The Google account reached Gmail's daily sending limit (2,000 messages a day in Workspace, 500 on trial and free accounts, rolling 24 hours): wait up to 24 hours, or send from several accounts or a bulk-mail service." },
  { match: (t) => /too many login attempts/i.test(t), hint: (c) => `Too many logins in a short time (often a pool reconnecting, or wrong credentials tried again)${retried(c, 'mails are retried later')}; if it repeats, check the credentials and lower Pool size.` },
  { match: (t) => /^421\b/.test(t) && /4\.7\.0|try again later|too many/i.test(t), hint: (c) => `The server is rate-limiting this client (too many connections or messages in a short time, as Gmail does)${retried(c, 'mails are retried with backoff')}; lower Pool size or set a rate limit.` },
  { match: (t) => /^421\b/.test(t) && /shutting down|closing transmission channel|not available/i.test(t), hint: (c) => `The server is restarting or shutting down${retried(c, 'mails are retried until it is back')}.` },
  { match: (t) => /^451\b|queue file write error|local error in processing/i.test(t), hint: (c) => `The server could not store the message (a disk, queue or processing error on its side)${retried(c, 'mails are retried')}; if it persists, the server's admin must check its logs.` },
  { match: (t) => /SendAsDenied|5\.2\.0.*SendAs/i.test(t), hint: 'The mailbox may not send as this From address: leave Custom From empty, or grant SendAs on that address to the mailbox or app.' },
  { match: (t) => /5\.7\.57/.test(t), hint: 'The server requires authentication: choose an authentication method in the connection (Microsoft 365 always requires one).' },
  { match: (t) => /534[- ]5\.7\.9|Application-specific password/i.test(t), hint: 'The account uses 2-step verification: create an app password, or use OAuth2.' },
  { match: (t) => /5\.7\.8.*(BadCredentials|not accepted)/is.test(t), hint: 'User name or password not accepted: check them, or use an app password or OAuth2.' },
  { match: (t) => /^334 eyJ/.test(t), hint: 'The server refused the OAuth2 token even after one renewal: the token lacks the mail scope (Google: https://mail.google.com/) or belongs to another user than User.' },
  { match: (t) => /Invalid base64 data in initial response/i.test(t), hint: 'The server refused the long XOAUTH2 line (Postfix limits commands to 2048 characters): use a server that accepts the token after its 334 prompt.' },
  {
    // Only a refusal of the token itself: a limit, a busy server or any other answer at AUTH is not
    // a missing permission.
    match: (t, e, c) => oauth(c) && (/^(535|334)\b/.test(t) || /\b5\.7\.3\b/.test(t) || (e.code === EAUTH && !e.responseCode && !/^[45]\d\d\b/.test(t))),
    hint: (c) =>
      (c.customFrom ? 'If Custom From differs from the mailbox, leave it empty. ' : '') +
      `The server refused the OAuth2 token: grant SMTP.SendAsApp with admin consent, register the app's service principal in Exchange Online and give it access to this mailbox, use scope ${M365_SCOPE}, and make User the mailbox itself.`,
  },
  // Any other temporary answer: never taken for a credentials problem.
  { match: (t, e) => isTemporary(t, e), hint: (c) => `The server answered with a temporary error (4xx)${retried(c, "mails are retried with backoff for as long as the connection's Retry for (s) allows")}.` },
  { match: (t, e) => e.code === EAUTH || /^535/.test(t), hint: 'Authentication failed: check the user and password, and that SMTP AUTH is enabled for the mailbox (Microsoft 365 requires OAuth2 for most tenants).' },
  { match: (t) => /^552|5\.3\.4|size exceeds/i.test(t), hint: 'The message is larger than the server accepts (attachments grow by a third in base64): send smaller attachments or a link.' },
  { match: (_t, e) => e.code === EENVELOPE, hint: 'The server refused the sender or all recipients: check the addresses and that the mailbox may send as this From address.' },
  // Transport
  { match: (t) => /wrong version number|ssl3_get_record|packet length too long/i.test(t), hint: 'TLS does not match the port: use Security TLS for port 465 and STARTTLS for port 587.' },
  { match: (t) => /self[- ]signed|unable to verify|certificate/i.test(t), hint: 'The server certificate could not be verified: install a trusted certificate, check the host name, or (only for a server you trust) turn off Verify server certificate.' },
  { match: (t) => /Greeting never received/i.test(t), hint: 'The server sent no SMTP greeting: on port 465 the server expects TLS from the start, so choose Security TLS; otherwise check host and port.' },
  { match: (t) => /ECONNREFUSED/.test(t), hint: 'Nothing accepts connections at this host and port: check host, port and any firewall.' },
  { match: (t, e) => /ENOTFOUND|EAI_AGAIN/.test(t) || e.code === EDNS, hint: 'The host name cannot be resolved: check the host (or the token URL) for typos and the DNS of this machine.' },
  { match: (t, e) => /ETIMEDOUT|timed? ?out/i.test(t) || e.code === ETIMEDOUT, hint: 'The server did not answer in time: check host, port and firewall (many networks block outgoing port 25).' },
  { match: (t) => /STARTTLS/i.test(t), hint: 'The server does not offer STARTTLS: choose Security TLS for port 465, or Auto/None only for a trusted local server.' },
  { match: (_t, e) => e.code === ECONNECTION || e.code === ESOCKET, hint: 'The connection to the SMTP server failed or was closed: check host, port and security, and try again.' },
];

/** Returns the hint for an error, or undefined when nothing specific is known. */
export function hintFor(err: MailError, ctx: DiagnoseContext = {}): string | undefined {
  const text = `${err.response ?? ''} ${err.message ?? ''}`.trim();
  const rule = RULES.find((r) => r.match(text, err, ctx));
  if (!rule) return undefined;
  return typeof rule.hint === 'function' ? rule.hint(ctx) : rule.hint;
}

/** Adds a hint to the error (unless it has one) and returns it. */
export function diagnose<E extends MailError>(err: E, ctx: DiagnoseContext = {}): E {
  if (!err.hint) {
    const hint = hintFor(err, ctx);
    if (hint) err.hint = hint;
  }
  return err;
}

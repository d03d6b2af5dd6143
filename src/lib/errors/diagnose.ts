import { EAUTH, ECONNECTION, EDNS, EENVELOPE, ESOCKET, ETIMEDOUT } from 'nodemailer/lib/errors';
import { GOOGLE_SCOPE, M365_SCOPE, TOKEN_URL_EXAMPLE } from '../../shared/constants';
import { ErrorCodes, setHint, type MailError } from './errors';
import { englishOf, text, type Text } from './texts';

/** What the diagnosis knows about the connection besides the error itself. */
export interface DiagnoseContext {
  authType?: string;
  /** A custom From that differs from the connection's user. */
  customFrom?: boolean;
  /** Nothing was retried: Test connection, or a connection with retries off. */
  noRetry?: boolean;
  /** A Google service account: its client ID (the key's client_id), the scope asked for and the mailbox (sub), which the hints name. */
  clientId?: string;
  scope?: string;
  user?: string;
}

interface Rule {
  match: (text: string, err: MailError, ctx: DiagnoseContext) => boolean;
  hint: Text | ((ctx: DiagnoseContext) => Text);
}

/** A 4xx SMTP answer (RFC 5321 §4.2.1: transient negative completion). */
const isTemporary = (t: string, e: MailError) =>
  e.code !== ErrorCodes.EOAUTH2 && ((e.responseCode !== undefined && e.responseCode >= 400 && e.responseCode < 500) || /^4\d\d\b/.test(t));
/** The hint that says what a send does about a temporary answer, or the one without that when nothing was retried. */
const retried = (once: Text, again: Text) => (ctx: DiagnoseContext) => (ctx.noRetry ? once : again);
const oauth = (ctx: DiagnoseContext) => ctx.authType === 'oauth2-client-credentials' || ctx.authType === 'oauth2';
const google = (ctx: DiagnoseContext) => ctx.authType === 'google-service-account';
/** What the Google hints name: the client ID and scope to delegate, the mailbox. */
const delegation = (ctx: DiagnoseContext) => ({
  clientId: ctx.clientId || 'client_id',
  scope: ctx.scope || GOOGLE_SCOPE,
  user: ctx.user || '',
});

const graph = (status: number, code?: RegExp) => (t: string, e: MailError) =>
  e.code === ErrorCodes.EGRAPH && e.responseCode === status && (!code || code.test(t));
/** The draft path of a mail over 4 MB: a draft, its attachments and upload sessions need Mail.ReadWrite. */
const draftPath = (e: MailError) => e.command === 'draft' || e.command === 'attachment' || e.command === 'upload' || e.command === 'send';

const GRAPH_RULES: Rule[] = [
  { match: graph(401), hint: text('hints.graph.wrongAudience') },
  { match: (t, e) => graph(403)(t, e) && draftPath(e), hint: text('hints.graph.accessDeniedUpload') },
  { match: graph(403, /ErrorSendAsDenied/), hint: text('hints.graph.sendAsDenied') },
  { match: graph(403), hint: text('hints.graph.accessDenied') },
  { match: graph(404, /MailboxNotEnabledForRESTAPI/i), hint: text('hints.graph.notEnabled') },
  // Any other 404 of the first request names a user Graph does not know; later ones a draft gone missing.
  {
    match: (t, e) => graph(404)(t, e) && (/ErrorInvalidUser/.test(t) || e.command === 'sendMail' || e.command === 'draft'),
    hint: text('hints.graph.invalidUser'),
  },
  { match: graph(413), hint: text('hints.graph.tooLarge') },
  { match: graph(429), hint: retried(text('hints.graph.throttled'), text('hints.graph.throttledRetried')) },
  {
    match: (t, e) => graph(503)(t, e) || graph(504)(t, e),
    hint: retried(text('hints.graph.unavailable'), text('hints.graph.unavailableRetried')),
  },
  { match: graph(400, /ErrorInvalidRecipients/), hint: text('hints.graph.invalidRecipients') },
  { match: graph(400), hint: text('hints.graph.badRequest') },
];

/**
 * The provider answers users meet most (see the troubleshooting table of the reference product),
 * most specific first. Each hint names the cause and the fix; none quotes a secret. The hints are
 * texts of the catalog, `hints.server.*` (texts.ts).
 */
/**
 * A Google service account (RFC 7523 JWT bearer grant, then XOAUTH2 to smtp.gmail.com): Google's
 * token endpoint says `unauthorized_client` without naming the client or the scope, and Gmail a
 * bare 535 5.7.8 BadCredentials; the hints name what the Workspace admin must check.
 */
const GOOGLE_RULES: Rule[] = [
  { match: (t, _e, c) => google(c) && /unauthorized_client/.test(t), hint: (c) => text('hints.google.notDelegated', delegation(c)) },
  { match: (t, _e, c) => google(c) && /Invalid JWT Signature/i.test(t), hint: text('hints.google.keyInvalid') },
  {
    match: (t, _e, c) => google(c) && /short-lived token|reasonable timeframe|iat and exp/i.test(t),
    hint: text('hints.google.clock'),
  },
  { match: (t, _e, c) => google(c) && /Invalid email or User ID/i.test(t), hint: (c) => text('hints.google.noSuchUser', delegation(c)) },
  { match: (t, _e, c) => google(c) && /invalid_grant/.test(t), hint: text('hints.google.grantRefused') },
  { match: (t, _e, c) => google(c) && /invalid_scope/.test(t), hint: text('hints.google.scopeInvalid') },
];

/** Gmail refusing a token it was given: the delegation lacks the scope, or the mailbox is not the domain's. */
const GOOGLE_TOKEN_REFUSED: Rule = {
  match: (t, e, c) => google(c) && e.code !== ErrorCodes.EOAUTH2 && (/^(535|334)\b/.test(t) || /5\.7\.8/.test(t)),
  hint: (c) => text('hints.google.tokenRefused', delegation(c)),
};

const RULES: Rule[] = [
  ...GOOGLE_RULES,
  // Microsoft Graph (https://learn.microsoft.com/graph/errors): its own code beside the HTTP status.
  ...GRAPH_RULES,
  // Entra ID token endpoint (AADSTS codes, https://learn.microsoft.com/entra/identity-platform/reference-error-codes)
  { match: (t) => /AADSTS7000215\b/.test(t), hint: text('hints.server.clientSecretWrong') },
  { match: (t) => /AADSTS7000222\b/.test(t), hint: text('hints.server.clientSecretExpired') },
  // "'client_assertion', 'client_secret' or 'request' is required": neither a secret nor a certificate's assertion arrived.
  { match: (t) => /AADSTS7000216\b/.test(t), hint: text('hints.server.clientAuthMissing') },
  // Certificate credentials (RFC 7523 private_key_jwt): a signature or thumbprint Entra ID does not
  // know (the certificate is not uploaded, or another key signed), and an assertion outside its time.
  { match: (t) => /AADSTS700027\b/.test(t), hint: text('hints.server.certificateNotRegistered') },
  { match: (t) => /AADSTS700023\b/.test(t), hint: text('hints.server.assertionAudience', { tokenUrl: TOKEN_URL_EXAMPLE }) },
  { match: (t) => /AADSTS700024\b/.test(t), hint: text('hints.server.assertionTime') },
  { match: (t) => /AADSTS700016\b/.test(t), hint: text('hints.server.appNotFound') },
  { match: (t) => /AADSTS90002\b/.test(t), hint: text('hints.server.tenantNotFound') },
  { match: (t) => /AADSTS900023\b/.test(t), hint: text('hints.server.tenantMalformed', { tokenUrl: TOKEN_URL_EXAMPLE }) },
  { match: (t) => /AADSTS1002012|AADSTS70011|invalid_scope/.test(t), hint: text('hints.server.scopeInvalid', { scope: M365_SCOPE }) },
  {
    match: (_t, e) => e.code === ErrorCodes.EOAUTH2 && !!e.responseCode && (e.responseCode === 429 || e.responseCode >= 500),
    hint: retried(text('hints.server.tokenBusy'), text('hints.server.tokenBusyRetried')),
  },
  { match: (t) => /invalid_client|unauthorized_client/.test(t), hint: text('hints.server.clientRefused') },
  // SMTP answers
  { match: (t) => /5\.7\.139/.test(t) && /security defaults/i.test(t), hint: text('hints.server.securityDefaults') },
  { match: (t) => /5\.7\.139/.test(t) && /criteria/i.test(t), hint: text('hints.server.conditionalAccess') },
  { match: (t) => /5\.7\.139/.test(t) && /Tenant/.test(t), hint: text('hints.server.smtpAuthTenant') },
  { match: (t) => /5\.7\.139/.test(t), hint: text('hints.server.smtpAuthMailbox') },
  // A recipient's server deferring that recipient (RCPT TO): about the recipient's side, not this
  // sender's; tested before the provider limits, whose "mailbox full" is the sending mailbox's.
  {
    match: (t, e) => isTemporary(t, e) && /greylist/i.test(t),
    hint: retried(text('hints.server.greylisted'), text('hints.server.greylistedRetried')),
  },
  {
    match: (t, e) => e.command === 'RCPT TO' && isTemporary(t, e) && /4\.2\.2|mailbox (is )?full|over ?quota|quota exceeded/i.test(t),
    hint: retried(text('hints.server.recipientFull'), text('hints.server.recipientFullRetried')),
  },
  // Provider limits (Exchange Online limits service description, Gmail sending limits). Tested
  // before the authentication rules: a limit reached at AUTH is not a credentials problem.
  {
    match: (t) => /^432\b/.test(t) && /4\.3\.2|concurrent/i.test(t),
    hint: retried(text('hints.server.concurrentConnections'), text('hints.server.concurrentConnectionsRetried')),
  },
  { match: (t) => /SubmissionQuotaExceeded/i.test(t), hint: text('hints.server.recipientQuota') },
  { match: (t) => /5\.2\.2\b|ShutoffQuotaExceeded|mailbox full/i.test(t) && !/throttled/i.test(t), hint: text('hints.server.mailboxFull') },
  { match: (t) => /5\.2\.25[1-5]/.test(t) && /throttl/i.test(t), hint: text('hints.server.senderThrottled') },
  { match: (t) => /4\.5\.3|too many recipients/i.test(t), hint: text('hints.server.tooManyRecipients') },
  { match: (t) => /5\.4\.5|daily user sending limit/i.test(t), hint: text('hints.server.gmailDailyLimit') },
  {
    match: (t) => /too many login attempts/i.test(t),
    hint: retried(text('hints.server.tooManyLogins'), text('hints.server.tooManyLoginsRetried')),
  },
  {
    match: (t) => /^421\b/.test(t) && /4\.7\.0|try again later|too many/i.test(t),
    hint: retried(text('hints.server.rateLimited'), text('hints.server.rateLimitedRetried')),
  },
  {
    match: (t) => /^421\b/.test(t) && /shutting down|closing transmission channel|not available/i.test(t),
    hint: retried(text('hints.server.shuttingDown'), text('hints.server.shuttingDownRetried')),
  },
  {
    match: (t) => /^451\b|queue file write error|local error in processing/i.test(t),
    hint: retried(text('hints.server.storeFailed'), text('hints.server.storeFailedRetried')),
  },
  { match: (t) => /SendAsDenied|5\.2\.0.*SendAs/i.test(t), hint: text('hints.server.sendAsDenied') },
  { match: (t) => /5\.7\.57/.test(t), hint: text('hints.server.authRequired') },
  GOOGLE_TOKEN_REFUSED,
  { match: (t) => /534[- ]5\.7\.9|Application-specific password/i.test(t), hint: text('hints.server.appPassword') },
  { match: (t) => /5\.7\.8.*(BadCredentials|not accepted)/is.test(t), hint: text('hints.server.badCredentials') },
  { match: (t) => /^334 eyJ/.test(t), hint: text('hints.server.tokenRefusedAgain') },
  { match: (t) => /Invalid base64 data in initial response/i.test(t), hint: text('hints.server.xoauth2TooLong') },
  {
    // Only a refusal of the token itself: a limit, a busy server or any other answer at AUTH is not
    // a missing permission.
    match: (t, e, c) =>
      oauth(c) && (/^(535|334)\b/.test(t) || /\b5\.7\.3\b/.test(t) || (e.code === EAUTH && !e.responseCode && !/^[45]\d\d\b/.test(t))),
    hint: (c) =>
      c.customFrom
        ? text('hints.server.oauthRefusedCustomFrom', { scope: M365_SCOPE })
        : text('hints.server.oauthRefused', { scope: M365_SCOPE }),
  },
  // Any other temporary answer: never taken for a credentials problem.
  { match: (t, e) => isTemporary(t, e), hint: retried(text('hints.server.temporary'), text('hints.server.temporaryRetried')) },
  { match: (t, e) => e.code === EAUTH || /^535/.test(t), hint: text('hints.server.authFailed') },
  { match: (t) => /^552|5\.3\.4|size exceeds/i.test(t), hint: text('hints.server.tooLarge') },
  { match: (_t, e) => e.code === EENVELOPE, hint: text('hints.server.envelope') },
  // Transport
  { match: (t) => /wrong version number|ssl3_get_record|packet length too long/i.test(t), hint: text('hints.server.tlsMismatch') },
  { match: (t) => /self[- ]signed|unable to verify|certificate/i.test(t), hint: text('hints.server.certificate') },
  { match: (t) => /Greeting never received/i.test(t), hint: text('hints.server.noGreeting') },
  { match: (t) => /ECONNREFUSED/.test(t), hint: text('hints.server.refused') },
  { match: (t, e) => /ENOTFOUND|EAI_AGAIN/.test(t) || e.code === EDNS, hint: text('hints.server.dns') },
  { match: (t, e) => /ETIMEDOUT|timed? ?out/i.test(t) || e.code === ETIMEDOUT, hint: text('hints.server.timeout') },
  { match: (t) => /STARTTLS/i.test(t), hint: text('hints.server.noStarttls') },
  { match: (_t, e) => e.code === ECONNECTION || e.code === ESOCKET, hint: text('hints.server.connectionFailed') },
];

/** The hint for an error as a text of the catalog, or undefined when nothing specific is known. */
export function hintTextFor(err: MailError, ctx: DiagnoseContext = {}): Text | undefined {
  const found = `${err.response ?? ''} ${err.message ?? ''}`.trim();
  const rule = RULES.find((r) => r.match(found, err, ctx));
  if (!rule) return undefined;
  return typeof rule.hint === 'function' ? rule.hint(ctx) : rule.hint;
}

/** Returns the hint for an error in English, or undefined when nothing specific is known. */
export function hintFor(err: MailError, ctx: DiagnoseContext = {}): string | undefined {
  const t = hintTextFor(err, ctx);
  return t && englishOf(t);
}

/** Adds a hint to the error (unless it has one) and returns it. */
export function diagnose<E extends MailError>(err: E, ctx: DiagnoseContext = {}): E {
  if (!err.hint) {
    const t = hintTextFor(err, ctx);
    if (t) setHint(err, t);
  }
  return err;
}

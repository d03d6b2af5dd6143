import type { MailError } from './errors';

/** What the diagnosis knows about the connection besides the error itself. */
export interface DiagnoseContext {
  authType?: string;
  /** A custom From that differs from the connection's user. */
  customFrom?: boolean;
}

interface Rule {
  match: (text: string, err: MailError, ctx: DiagnoseContext) => boolean;
  hint: string | ((ctx: DiagnoseContext) => string);
}

const M365_SCOPE = 'https://outlook.office365.com/.default';
const TOKEN_URL = 'https://login.microsoftonline.com/{tenant_id}/oauth2/v2.0/token';
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
  { match: (t) => /invalid_client|unauthorized_client/.test(t), hint: 'The token endpoint refused the client: check the client ID and client secret.' },
  // SMTP answers
  { match: (t) => /5\.7\.139/.test(t) && /security defaults/i.test(t), hint: 'Entra security defaults block SMTP AUTH: use OAuth2 client credentials, or have an admin adjust security defaults / conditional access.' },
  { match: (t) => /5\.7\.139/.test(t) && /criteria/i.test(t), hint: 'A conditional access policy refused the sign-in: an admin must allow this app or user.' },
  { match: (t) => /5\.7\.139/.test(t) && /Tenant/.test(t), hint: 'SMTP AUTH is disabled for the whole tenant: an admin enables it in the Exchange admin center (Settings > Mail flow) or for this mailbox.' },
  { match: (t) => /5\.7\.139/.test(t), hint: 'SMTP AUTH is disabled for this mailbox: enable Authenticated SMTP in the Microsoft 365 admin center (user > Mail > Manage email apps).' },
  { match: (t) => /SendAsDenied|5\.2\.0.*SendAs/i.test(t), hint: 'The mailbox may not send as this From address: leave Custom From empty, or grant SendAs on that address to the mailbox or app.' },
  { match: (t) => /5\.7\.57/.test(t), hint: 'The server requires authentication: choose an authentication method in the connection (Microsoft 365 always requires one).' },
  { match: (t) => /534[- ]5\.7\.9|Application-specific password/i.test(t), hint: 'The account uses 2-step verification: create an app password, or use OAuth2.' },
  { match: (t) => /5\.7\.8.*(BadCredentials|not accepted)/is.test(t), hint: 'User name or password not accepted: check them, or use an app password or OAuth2.' },
  { match: (t) => /^334 eyJ/.test(t), hint: 'The server refused the OAuth2 token even after one renewal: the token lacks the mail scope (Google: https://mail.google.com/) or belongs to another user than User.' },
  { match: (t) => /Invalid base64 data in initial response/i.test(t), hint: 'The server refused the long XOAUTH2 line (Postfix limits commands to 2048 characters): use a server that accepts the token after its 334 prompt.' },
  {
    match: (t, e, c) => oauth(c) && (e.code === 'EAUTH' || /^5\.7\.3|535|401/.test(t)),
    hint: (c) =>
      (c.customFrom ? 'If Custom From differs from the mailbox, leave it empty. ' : '') +
      `The server refused the OAuth2 token: grant SMTP.SendAsApp with admin consent, register the app's service principal in Exchange Online and give it access to this mailbox, use scope ${M365_SCOPE}, and make User the mailbox itself.`,
  },
  { match: (t, e) => e.code === 'EAUTH' || /^535/.test(t), hint: 'Authentication failed: check the user and password, and that SMTP AUTH is enabled for the mailbox (Microsoft 365 requires OAuth2 for most tenants).' },
  { match: (t) => /^552|5\.3\.4|size exceeds/i.test(t), hint: 'The message is larger than the server accepts (attachments grow by a third in base64): send smaller attachments or a link.' },
  { match: (t, e) => e.code === 'EENVELOPE', hint: 'The server refused the sender or all recipients: check the addresses and that the mailbox may send as this From address.' },
  // Transport
  { match: (t) => /wrong version number|ssl3_get_record|packet length too long/i.test(t), hint: 'TLS does not match the port: use Security TLS for port 465 and STARTTLS for port 587.' },
  { match: (t) => /self[- ]signed|unable to verify|certificate/i.test(t), hint: 'The server certificate could not be verified: install a trusted certificate, check the host name, or (only for a server you trust) turn off Verify server certificate.' },
  { match: (t) => /Greeting never received/i.test(t), hint: 'The server sent no SMTP greeting: on port 465 the server expects TLS from the start, so choose Security TLS; otherwise check host and port.' },
  { match: (t) => /ECONNREFUSED/.test(t), hint: 'Nothing accepts connections at this host and port: check host, port and any firewall.' },
  { match: (t, e) => /ENOTFOUND|EAI_AGAIN/.test(t) || e.code === 'EDNS', hint: 'The host name cannot be resolved: check the host (or the token URL) for typos and the DNS of this machine.' },
  { match: (t, e) => /ETIMEDOUT|timed? ?out/i.test(t) || e.code === 'ETIMEDOUT', hint: 'The server did not answer in time: check host, port and firewall (many networks block outgoing port 25).' },
  { match: (t) => /STARTTLS/i.test(t), hint: 'The server does not offer STARTTLS: choose Security TLS for port 465, or Auto/None only for a trusted local server.' },
  { match: (t, e) => e.code === 'ECONNECTION' || e.code === 'ESOCKET', hint: 'The connection to the SMTP server failed or was closed: check host, port and security, and try again.' },
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

/**
 * The application permissions an app-only access token lists in its `roles` claim (Entra ID puts
 * the permissions granted with admin consent there), or undefined when the token is no JWT or has
 * no such claim: another provider's token says nothing, and nothing is concluded from it. The
 * token is only read, not verified: the server that takes it does that.
 */
export function rolesOf(accessToken: string): string[] | undefined {
  const parts = accessToken.split('.');
  if (parts.length !== 3) return undefined;
  try {
    const roles = (JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')) as { roles?: unknown }).roles;
    return Array.isArray(roles) ? roles.filter((r): r is string => typeof r === 'string') : undefined;
  } catch {
    return undefined;
  }
}

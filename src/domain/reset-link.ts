/** Where the token goes in PASSWORD_RESET_URL. */
export const TOKEN_PLACEHOLDER = '{{token}}';

const LOOPBACK_HOSTS = new Set(['localhost', '[::1]']);
const isLoopback = (host: string): boolean => LOOPBACK_HOSTS.has(host) || /^127(\.\d{1,3}){3}$/.test(host);

/** The link of a reset mail: the template with the token in place (base64url needs no escaping, but is escaped anyway). */
export function resetLink(template: string, token: string): string {
  return template.replace(TOKEN_PLACEHOLDER, encodeURIComponent(token));
}

/**
 * Why a PASSWORD_RESET_URL cannot be used (undefined when it can). The
 * token travels in it, so: an absolute URL holding the placeholder exactly
 * once, outside the origin (a token in a host name would leak to DNS), over
 * https (a token sent in clear could be read on the way; plain http only to
 * a portal on this machine, for development).
 */
export function resetUrlProblem(template: string): string | undefined {
  if (template.split(TOKEN_PLACEHOLDER).length !== 2) return `must hold ${TOKEN_PLACEHOLDER} exactly once`;
  let a: URL;
  let b: URL;
  try {
    a = new URL(resetLink(template, 'a'));
    b = new URL(resetLink(template, 'b'));
  } catch {
    return 'is not an absolute URL';
  }
  if (a.origin !== b.origin || a.username !== b.username || a.password !== b.password) return `must hold ${TOKEN_PLACEHOLDER} in its path, query or fragment`;
  if (a.username || a.password) return 'must not hold a user name or password';
  if (a.protocol === 'https:') return undefined;
  if (a.protocol === 'http:' && isLoopback(a.hostname)) return undefined;
  return 'must use https:// (http:// only on a loopback host)';
}

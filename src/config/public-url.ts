import { isIP } from 'node:net';

/**
 * Why a PUBLIC_URL cannot be used (undefined when it can): it is the base the
 * documents' `servers` give clients, to which they append `/rpc`, `/rest/...`,
 * so an absolute http(s) URL, without credentials, query or fragment (which
 * would end up in the middle of every call's address).
 */
export function publicUrlProblem(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'is not an absolute URL';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'must use http:// or https://';
  if (url.username || url.password) return 'must not hold a user name or password';
  if (value.includes('?') || value.includes('#')) return 'must not have a query or fragment';
  return undefined;
}

/** The form the documents use: no trailing slash, since paths (`/rpc`) are appended to it. */
export const normalizePublicUrl = (value: string): string => value.replace(/\/+$/, '');

/** PUBLIC_URL's default: the address the service listens on. */
export function listenUrl(host: string, port: number): string {
  return `http://${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
}

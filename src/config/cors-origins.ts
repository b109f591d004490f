/**
 * `CORS_ORIGINS`: exact origins separated by commas
 * (`https://portal.example,http://localhost:5173`). An origin is what a
 * browser sends in `Origin` (RFC 6454 section 6.1): `scheme://host[:port]`,
 * http or https, no path (not even `/`), query, fragment or user; it is kept
 * in the browser's own serialization (host in lower case, default port
 * dropped), so that matching is a plain string comparison. `*` and `null`
 * are refused: `*` would let every site's pages call the service with a
 * visitor's tokens, and `null` is the origin of sandboxed frames and local
 * files, i.e. of anyone. Throws with what is wrong.
 */
export function parseCorsOrigins(value: string): string[] {
  if (value.trim() === '') return [];
  const origins = value.split(',').map((part) => originOf(part.trim()));
  for (const [i, origin] of origins.entries()) {
    if (origins.indexOf(origin) !== i) throw new Error(`${origin} is given twice`);
  }
  return origins;
}

function originOf(given: string): string {
  if (given === '*') throw new Error('"*" is not allowed: list the exact origins of the pages that call the service');
  if (given.includes('*')) throw new Error(`"${given}" has a wildcard: list each origin exactly`);
  if (given === '') throw new Error('an origin is empty');
  let url: URL;
  try {
    url = new URL(given);
  } catch {
    throw new Error(`"${given}" is not an origin like https://portal.example`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error(`"${given}" is not http or https`);
  if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '' || url.pathname !== '/' || given.endsWith('/')) {
    throw new Error(`"${given}" is not just scheme://host[:port] (no path, not even a trailing /)`);
  }
  return url.origin;
}

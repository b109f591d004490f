import { isIP } from 'node:net';

/**
 * `TRUST_PROXY` as the service uses it: `false` (the TCP peer is the client),
 * a number of proxies in front of the service (hop count), or the addresses
 * and networks of the proxies (see README, "Client IP behind proxies").
 */
export type TrustProxy = false | number | string[];

/** Named networks that proxy-addr (which Fastify uses) understands. */
const NAMED_RANGES = new Set(['loopback', 'linklocal', 'uniquelocal']);
const MAX_HOPS = 32;

/** `10.0.0.1`, `10.0.0.0/8`, `10.0.0.0/255.0.0.0`, `fd00::/8`, or a named range. */
export function isProxyAddress(entry: string): boolean {
  if (NAMED_RANGES.has(entry)) return true;
  const [address = '', range, ...rest] = entry.split('/');
  const version = isIP(address);
  if (version === 0 || rest.length > 0) return false;
  if (range === undefined) return true;
  if (/^\d{1,3}$/.test(range)) return Number(range) >= 1 && Number(range) <= (version === 4 ? 32 : 128);
  // An IPv4 netmask: contiguous ones, then zeros.
  if (version !== 4 || isIP(range) !== 4) return false;
  const bits = range.split('.').reduce((n, octet) => n * 256 + Number(octet), 0);
  const inverted = 2 ** 32 - 1 - bits;
  return bits !== 0 && (inverted & (inverted + 1)) === 0;
}

/**
 * Reads the forms an operator may give: `false`/`true`, a hop count, or a
 * comma-separated list (a JSON config file may also give a boolean, a number
 * or an array). `true` means one proxy: the right-most `X-Forwarded-For`
 * entry, never the left-most that Fastify's own `true` would take, which the
 * client writes itself. Undefined for anything else.
 */
export function parseTrustProxy(value: unknown): TrustProxy | undefined {
  if (value === false || value === 0) return false;
  if (value === true) return 1;
  if (typeof value === 'number') return Number.isInteger(value) && value > 0 && value <= MAX_HOPS ? value : undefined;
  if (Array.isArray(value)) {
    const entries = value.map((v) => (typeof v === 'string' ? v.trim() : ''));
    return entries.length > 0 && entries.every(isProxyAddress) ? entries : undefined;
  }
  if (typeof value !== 'string') return undefined;
  const text = value.trim().toLowerCase();
  if (text === 'false') return false;
  if (text === 'true') return 1;
  if (/^\d+$/.test(text)) return parseTrustProxy(Number(text));
  return parseTrustProxy(value.split(','));
}

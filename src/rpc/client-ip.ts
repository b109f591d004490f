import { isIPv4, isIPv6 } from 'node:net';
import type { FastifyRequest, FastifyServerOptions } from 'fastify';
import type { TrustProxy } from '../config/trust-proxy.js';

/**
 * Fastify's `trustProxy` for the setting. A hop count becomes a trust
 * function (the first N addresses from the socket inward are proxies), since
 * Fastify itself no longer honours a bare number.
 */
export function trustProxyOption(setting: TrustProxy): FastifyServerOptions['trustProxy'] {
  if (typeof setting === 'number') return (_address: string, hop: number) => hop < setting;
  return setting;
}

/**
 * One spelling per address, so one client is one key for the per-IP limits:
 * IPv6 compressed and lower-case without a zone, an IPv4-mapped IPv6 address
 * (a dual-stack socket's view of an IPv4 client) as IPv4. Undefined for
 * anything that is not an IP address.
 */
export function canonicalIp(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  if (isIPv4(text)) return text;
  if (!isIPv6(text)) return undefined;
  let host: string;
  try {
    host = new URL(`http://[${text.replace(/%.*$/s, '')}]`).hostname.slice(1, -1);
  } catch {
    return undefined;
  }
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(host);
  if (!mapped) return host;
  const [high, low] = [parseInt(mapped[1] as string, 16), parseInt(mapped[2] as string, 16)];
  return [high >> 8, high & 255, low >> 8, low & 255].join('.');
}

/**
 * The client's IP address as the per-IP limits, sessions and the audit log
 * know it: the right-most address that TRUST_PROXY does not trust. What a
 * trusted proxy forwarded but is not an IP address (a misconfigured proxy,
 * or more hops trusted than there are proxies, so the client's own header
 * shows through) is never used: the TCP peer's address is, so a forged value
 * can neither reach storage nor pick a fresh per-IP counter.
 */
export function clientIp(request: FastifyRequest): string {
  return canonicalIp(request.ip) ?? canonicalIp(request.socket.remoteAddress) ?? 'unknown';
}

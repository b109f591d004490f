import type { FastifyInstance, FastifyRequest } from 'fastify';
import { authenticatePortalClient } from '../auth/portal-clients.js';
import { canonicalIp, clientIp } from './client-ip.js';
import { Fault } from './faults.js';

/** `<portal_client_id>:<secret>`: a portal server's own credential, beside the end user's bearer token in `Authorization`. */
export const PORTAL_CLIENT_HEADER = 'x-portal-client';
/** The end user's IP address as the portal server saw it (cf. Auth0's `auth0-forwarded-for`). */
export const END_USER_IP_HEADER = 'x-end-user-ip';

/** What the column holds of an ignored header value. */
const IGNORED_MAX = 64;

export interface CallOrigin {
  ip: string;
  portalClientId: string | undefined;
  endUserIpIgnored: string | undefined;
}

const single = (value: string | string[] | undefined): string | undefined => (Array.isArray(value) ? value.join(', ') : value);

/**
 * Where a call comes from, for the per-IP limits, sessions and the audit log.
 *
 * A server-side portal signs in all its users from its own address. With a
 * valid portal credential (X-Portal-Client) it may name the end user's
 * address in X-End-User-IP, which then stands for the client IP; the portal
 * is limited on its own (PORTAL_RATE_LIMIT, see auth/guard.ts) and named on
 * every audit row the call writes. Without a credential the header is
 * ignored, and the audit rows of the call record what it claimed. A wrong
 * or revoked credential, or an end-user IP that is not one IP address,
 * refuses the call before anything is looked at or counted.
 */
export async function callOrigin(app: FastifyInstance, request: FastifyRequest): Promise<CallOrigin> {
  const own = clientIp(request);
  const credential = single(request.headers[PORTAL_CLIENT_HEADER]);
  const endUserIp = single(request.headers[END_USER_IP_HEADER]);
  if (credential === undefined) {
    if (endUserIp === undefined) return { ip: own, portalClientId: undefined, endUserIpIgnored: undefined };
    request.log.info({ end_user_ip: endUserIp.slice(0, IGNORED_MAX) }, 'X-End-User-IP ignored: the call carries no portal client credential');
    return { ip: own, portalClientId: undefined, endUserIpIgnored: (canonicalIp(endUserIp.trim()) ?? endUserIp).slice(0, IGNORED_MAX) };
  }
  let portalClientId: string;
  try {
    portalClientId = await authenticatePortalClient(app, credential);
  } catch (err) {
    // Only the part before the colon, which is public: an operator can tell which portal is misconfigured.
    if (err instanceof Fault) request.log.warn({ portal_client_id: credential.split(':', 1)[0]?.slice(0, 32) }, 'X-Portal-Client refused');
    throw err;
  }
  if (endUserIp === undefined) return { ip: own, portalClientId, endUserIpIgnored: undefined };
  const ip = canonicalIp(endUserIp.trim());
  if (ip === undefined) throw new Fault('Client.Request.invalid_end_user_ip');
  return { ip, portalClientId, endUserIpIgnored: undefined };
}

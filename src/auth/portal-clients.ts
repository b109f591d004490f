import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { sha256 } from '../domain/crypto/hash.js';
import { randomToken } from '../domain/crypto/random.js';
import type { AuditActor } from '../repositories/audit.js';
import type { PortalClientListing } from '../repositories/portal-clients.js';
import { retryingTransaction } from '../repositories/writer.js';
import { Fault } from '../rpc/faults.js';

/** `pc_` and 16 lower-case hex digits: public, like an OAuth client_id. */
const ID_PATTERN = /^pc_[0-9a-f]{16}$/;
/** A secret as issued: 32 random bytes in base64url. */
const SECRET_PATTERN = /^[A-Za-z0-9_-]{43}$/;

/** Compared against when the id names no live client, so every refusal costs the same work. */
const NO_HASH = Buffer.from(sha256(randomToken(32)), 'hex');

const refused = () => new Fault('Server.Session.portal_client_auth_failed');

/**
 * The portal client an `X-Portal-Client: <portal_client_id>:<secret>` header
 * names, or a fault. Unknown id, wrong secret, revoked client and a header
 * that is not of that form all get the same fault, so the answer never says
 * which part was wrong; the secret's hash is compared in constant time
 * (OWASP ASVS 4.0 2.9.2/6.2.x: no timing oracle on secrets). One committed
 * point read and nothing written: a refused call changes nothing.
 */
export async function authenticatePortalClient(app: FastifyInstance, header: string): Promise<string> {
  const colon = header.indexOf(':');
  const id = header.slice(0, colon).trim();
  const secret = header.slice(colon + 1).trim();
  const wellFormed = colon > 0 && ID_PATTERN.test(id) && SECRET_PATTERN.test(secret);
  const row = wellFormed ? await app.repos.portalClients.findForCheck(id) : undefined;
  const stored = row && row.revoked_at === null ? Buffer.from(row.secret_hash, 'hex') : NO_HASH;
  const matches = timingSafeEqual(Buffer.from(sha256(secret), 'hex'), stored);
  if (!wellFormed || !row || row.revoked_at !== null || !matches) throw refused();
  return id;
}

/**
 * A new portal client. The secret is in the answer only: 256 random bits,
 * stored as its SHA-256 (a fast hash suffices for a random secret of that
 * size). The client and its audit row commit together.
 */
export async function addPortalClient(app: FastifyInstance, name: string, actor: AuditActor): Promise<{ portal_client_id: string; secret: string }> {
  const id = `pc_${randomBytes(8).toString('hex')}`;
  const secret = randomToken(32);
  const now = app.clock.now();
  await retryingTransaction(app.db, async (trx) => {
    await app.repos.portalClients.insert({ portal_client_id: id, name, secret_hash: sha256(secret), created_at: now, revoked_at: null }, trx);
    await app.repos.audit.record(
      { ...actor, event: 'portal_client.add', realm: null, entity: null, entity_id: null, details: { portal_client_id: id, name } },
      now,
      trx,
    );
  });
  return { portal_client_id: id, secret };
}

/**
 * Revokes a live portal client: from the moment this commits, every replica
 * refuses its credential (nothing caches it). Undefined when there is no live
 * client with that id (unknown or already revoked); then nothing is written.
 */
export async function revokePortalClient(app: FastifyInstance, id: string, actor: AuditActor): Promise<PortalClientListing | undefined> {
  const now = app.clock.now();
  return retryingTransaction(app.db, async (trx) => {
    const revoked = await app.repos.portalClients.revoke(id, now, trx);
    if (!revoked) return undefined;
    await app.repos.audit.record(
      { ...actor, event: 'portal_client.revoke', realm: null, entity: null, entity_id: null, details: { portal_client_id: id, name: revoked.name } },
      now,
      trx,
    );
    return revoked;
  });
}

import { entityOfRealm } from '../../entities/descriptors.js';
import { policyFor } from '../../entities/passwords.js';
import type { Row } from '../../repositories/entities.js';
import { readableRecord } from '../entity/shared.js';
import type { ParamsOf } from '../../rpc/generated/method-types.js';
import { defineMethod, type CallContext } from '../../rpc/registry.js';

/** Params as `schemas/Session/get_password_policy.json` defines them. */
type Params = ParamsOf<'Session/get_password_policy'>;

const DAY_MS = 86_400_000;

/**
 * Whose rules: a named principal's only for a session that may read that
 * principal (its own, or an admin's holding the entity's permission). To
 * anyone else, rules that differ by customer class would tell which logins
 * exist, which every login answer is careful not to. Without `login`, the
 * caller's own rules when it has a session in that realm, else the realm's.
 */
async function principalOf(params: Params, { app, session }: CallContext): Promise<Row | undefined> {
  const d = entityOfRealm(params.realm);
  if (!d) return undefined;
  const repo = app.repos.entities[d.name];
  const { login } = params;
  if (login === undefined) return session?.realm === params.realm ? repo.findById(session.principalId) : undefined;
  return (await readableRecord(session, d, () => repo.findByLogin(login))).row;
}

export default defineMethod<Params, unknown>({
  name: 'Session/get_password_policy',
  access: { kind: 'public', session: 'optional' },
  faults: ['Server.AccessControl.forbidden'],
  async handler(params, ctx) {
    const policy = await policyFor(ctx.app, entityOfRealm(params.realm), (await principalOf(params, ctx)) ?? {});
    const expire = ctx.app.config.WEB_PASSWORD_EXPIRE;
    return { ...policy, expires_after_days: expire > 0 ? expire / DAY_MS : null };
  },
});

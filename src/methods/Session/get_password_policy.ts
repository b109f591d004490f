import { entityOfRealm } from '../../entities/descriptors.js';
import { policyFor } from '../../entities/passwords.js';
import type { Row } from '../../repositories/entities.js';
import { Fault } from '../../rpc/faults.js';
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
  const own = session !== undefined && session.realm === params.realm;
  if (params.login === undefined) return own ? repo.findById(session.principalId) : undefined;
  const asAdmin = session?.realm === 'admin' && session.permissions.includes(d.permission);
  if (!asAdmin && !own) throw new Fault('Server.AccessControl.forbidden', 'The rules of a named login are shown to its own session or to an admin');
  const row = await repo.findByKey(params.login);
  if (!asAdmin && (!row || Number(row[d.idField]) !== session?.principalId)) {
    throw new Fault('Server.AccessControl.forbidden', 'The rules of a named login are shown to its own session or to an admin');
  }
  return row;
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

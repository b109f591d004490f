import { defineMethod } from '../../rpc/registry.js';
import { Fault } from '../../rpc/faults.js';
import { entityOfRealm } from '../../entities/descriptors.js';
import type { IssuedSession } from '../../plugins/sessions.js';
import type { Row } from '../../repositories/entities.js';

interface Params {
  login: string;
  password: string;
  realm: string;
}

type Result = ({ status: 'authenticated' } & IssuedSession) | ({ status: 'password_change_required'; reason: 'expired' | 'must_change' } & IssuedSession);

/** Why the password must be changed before anything else, if it must. */
export function passwordChangeReason(row: Row, now: number, expireMs: number): 'expired' | 'must_change' | undefined {
  if (row.password_must_change) return 'must_change';
  if (expireMs > 0 && Number(row.password_set_at ?? 0) + expireMs <= now) return 'expired';
  return undefined;
}

export default defineMethod<Params, Result>({
  name: 'Session/login',
  access: { kind: 'public' },
  faults: ['Server.Session.auth_failed'],
  async handler(params, ctx) {
    const { app } = ctx;
    const d = entityOfRealm(params.realm);
    const row = d ? await app.repos.entities[d.name].findByKey(params.login) : undefined;
    const hash = row?.password_hash;
    // Same answer and same bcrypt work whether the login exists or not.
    const passwordOk = typeof hash === 'string' ? await app.passwords.verify(params.password, hash) : await app.passwords.verifyNothing(params.password);
    if (!d || !row || !passwordOk || row.blocked) throw new Fault('Server.Session.auth_failed');
    const reason = passwordChangeReason(row, app.clock.now(), app.config.WEB_PASSWORD_EXPIRE);
    const session = await app.sessions.create({
      realm: params.realm,
      principalId: Number(row[d.idField]),
      amr: ['pwd'],
      restricted: reason !== undefined,
      ip: ctx.ip,
      userAgent: ctx.userAgent,
    });
    return reason ? { status: 'password_change_required', reason, ...session } : { status: 'authenticated', ...session };
  },
});

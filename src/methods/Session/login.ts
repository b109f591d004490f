import { defineMethod } from '../../rpc/registry.js';
import { Fault } from '../../rpc/faults.js';
import { entityOfRealm } from '../../entities/descriptors.js';
import type { IssuedSession } from '../../plugins/sessions.js';

interface Params {
  login: string;
  password: string;
  realm: string;
}

export default defineMethod<Params, { status: 'authenticated' } & IssuedSession>({
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
    const session = await app.sessions.create({
      realm: params.realm,
      principalId: Number(row[d.idField]),
      amr: ['pwd'],
      ip: ctx.ip,
      userAgent: ctx.userAgent,
    });
    return { status: 'authenticated', ...session };
  },
});

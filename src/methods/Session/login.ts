import { defineMethod } from '../../rpc/registry.js';
import { Fault } from '../../rpc/faults.js';
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
    const user = params.realm === 'admin' ? await app.repos.users.findByLogin(params.login) : undefined;
    // Same answer and same bcrypt work whether the login exists or not.
    const passwordOk = user ? await app.passwords.verify(params.password, user.password_hash) : await app.passwords.verifyNothing(params.password);
    if (!user || !passwordOk || user.blocked) throw new Fault('Server.Session.auth_failed');
    const session = await app.sessions.create({
      realm: 'admin',
      principalId: user.i_user,
      amr: ['pwd'],
      ip: ctx.ip,
      userAgent: ctx.userAgent,
    });
    return { status: 'authenticated', ...session };
  },
});

import { entityOfRealm } from '../../entities/descriptors.js';
import type { IssuedSession } from '../../plugins/sessions.js';
import { Fault } from '../../rpc/faults.js';
import { notFound } from '../entity/shared.js';
import { defineMethod } from '../../rpc/registry.js';
import { actorOf } from '../shared/audit.js';
import type { ParamsOf } from '../../rpc/generated/method-types.js';
import { retryingTransaction } from '../../repositories/writer.js';

/** Params as `schemas/Session/impersonate.json` defines them. */
type Params = ParamsOf<'Session/impersonate'>;

export default defineMethod<Params, { status: 'authenticated' } & IssuedSession>({
  name: 'Session/impersonate',
  access: { kind: 'admin', permission: 'sessions.impersonate' },
  faults: ['Server.AccessControl.forbidden', 'Server.NotFound'],
  async handler(params, ctx) {
    const { app, session } = ctx;
    const d = entityOfRealm(params.realm);
    if (!d) throw new Fault('Server.NotFound');
    const now = app.clock.now();
    const repo = app.repos.entities[d.name];
    const issued = await retryingTransaction(app.db, async (trx) => {
      const row = params.login === undefined ? await repo.findById(Number(params.id), trx) : await repo.findByLogin(params.login, trx);
      if (!row) throw notFound(d, params.login === undefined ? `${d.idField} ${params.id}` : 'this login');
      const principalId = Number(row[d.idField]);
      if (row.blocked) throw new Fault('Server.AccessControl.forbidden', 'the principal is blocked');
      // No password and no OTP: the admin's own session (and its permission) is the authentication.
      // Never restricted: an impersonated session cannot change the principal's password anyway.
      const created = await app.sessions.create(
        {
          realm: params.realm,
          principalId,
          login: String(row.login),
          amr: ['imp'],
          impersonatedBy: session.principalId,
          ip: ctx.ip,
          userAgent: ctx.userAgent,
          style: ctx.tokenStyle,
        },
        trx,
      );
      await app.repos.audit.record(
        {
          ...actorOf(ctx),
          event: 'session.impersonate',
          realm: params.realm,
          entity: d.name,
          entity_id: principalId,
          details: { impersonation_session_id: created.session_id },
        },
        now,
        trx,
      );
      return created;
    });
    return { status: 'authenticated' as const, ...issued };
  },
});

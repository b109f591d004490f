import { entityOfRealm } from '../../entities/descriptors.js';
import { defineMethod } from '../../rpc/registry.js';
import { actorOf } from '../shared/audit.js';
import { retryingTransaction } from '../../repositories/writer.js';

export default defineMethod({
  name: 'Session/logout',
  access: { kind: 'session', allowRestricted: true },
  async handler(params: { all: boolean }, ctx) {
    const { app, session } = ctx;
    const now = app.clock.now();
    const ended = await retryingTransaction(app.db, async (trx) => {
      const n = params.all
        ? await app.repos.sessions.revokeAllOf(session.realm, session.principalId, now, 'logout_all', undefined, trx)
        : await app.repos.sessions.revoke(session.sessionId, now, 'logout', trx);
      await app.repos.audit.record(
        {
          ...actorOf(ctx),
          event: 'logout',
          realm: session.realm,
          entity: entityOfRealm(session.realm)?.name ?? null,
          entity_id: session.principalId,
          details: { all: params.all, sessions_ended: n },
        },
        now,
        trx,
      );
      return n;
    });
    return { success: 1 as const, sessions_ended: ended };
  },
});

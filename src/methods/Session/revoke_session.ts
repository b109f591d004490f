import { entityOfRealm } from '../../entities/descriptors.js';
import { isLiveSession } from '../../repositories/sessions.js';
import { Fault } from '../../rpc/faults.js';
import { defineMethod } from '../../rpc/registry.js';
import { actorOf } from '../shared/audit.js';
import { retryingTransaction } from '../../repositories/writer.js';

export default defineMethod({
  name: 'Session/revoke_session',
  access: { kind: 'session' },
  faults: ['Server.NotFound'],
  async handler(params: { session_id: string }, ctx) {
    const { app, session } = ctx;
    const now = app.clock.now();
    await retryingTransaction(app.db, async (trx) => {
      const row = await app.repos.sessions.findById(params.session_id, trx);
      const own = row !== undefined && row.realm === session.realm && row.principal_id === session.principalId;
      // Someone else's session, an unknown one and an ended one look the same.
      if (
        !own ||
        !isLiveSession(row, now, app.config.SESSION_IDLE_TTL) ||
        (await app.repos.sessions.revokeOwn(params.session_id, session.realm, session.principalId, now, 'revoked', trx)) === 0
      ) {
        throw new Fault('Server.NotFound', 'You have no live session with this session_id');
      }
      await app.repos.audit.record(
        {
          ...actorOf(ctx),
          event: 'session.revoke',
          realm: session.realm,
          entity: entityOfRealm(session.realm)?.name ?? null,
          entity_id: session.principalId,
          details: { revoked_session_id: params.session_id, current: params.session_id === session.sessionId },
        },
        now,
        trx,
      );
    });
    return { success: 1 as const };
  },
});

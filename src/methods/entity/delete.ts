import { referrersOf, type EntityDescriptor } from '../../entities/descriptors.js';
import { entitySchemas } from '../../entities/method-schemas.js';
import { entityModel } from '../../entities/model.js';
import { Fault } from '../../rpc/faults.js';
import type { MethodDefinition, SessionCallContext } from '../../rpc/registry.js';
import { assertOutranks, audit, loadById, titleOf, writeFaults, type Params } from './shared.js';
import { removeTwoFactor } from '../../auth/two-factor.js';
import { retryingTransaction } from '../../repositories/writer.js';

/** `<Service>/delete_<entity>`: refused while other objects refer to it; ends the principal's sessions and removes its 2FA key. */
export function deleteMethod(d: EntityDescriptor): MethodDefinition<Params, { success: 1 }> {
  const schemas = entitySchemas(entityModel(d)).delete;
  return {
    name: `${d.service}/delete_${d.name}`,
    summary: `Delete a ${titleOf(d)}.`,
    description:
      'Refused with `Server.Conflict.has_children` (listing how many of each) while objects refer to it. An admin user can be deleted only by an admin holding every permission it holds.',
    access: { kind: 'admin', permission: d.permission },
    params: schemas.params,
    result: schemas.result,
    faults: ['Server.AccessControl.forbidden', 'Server.NotFound', ...writeFaults(d, 'delete')],
    async handler(params, c) {
      const ctx = c as SessionCallContext;
      const { app } = ctx;
      const id = Number(params[d.idField]);
      return retryingTransaction(app.db, async (trx) => {
        const row = await loadById(app, d, id, trx);
        if (row.is_root) throw new Fault('Server.Conflict.protected', 'The root admin cannot be deleted');
        assertOutranks(ctx, d, row);
        const children: Record<string, number> = {};
        for (const { entity, field } of referrersOf(d.name)) {
          const n = await app.repos.entities[entity.name].countWhere(field, id, trx);
          if (n > 0) children[entity.name] = (children[entity.name] ?? 0) + n;
        }
        if (Object.keys(children).length > 0) {
          const list = Object.entries(children).map(([name, n]) => `${n} ${name.replace(/_/g, ' ')}(s)`);
          throw new Fault('Server.Conflict.has_children', `Delete refused: ${list.join(', ')} still refer to it`, { children });
        }
        if (d.realm) {
          await app.repos.sessions.deleteAllOf(d.realm, id, app.clock.now(), trx);
          await removeTwoFactor(app, d.realm, id, trx);
        }
        await app.repos.entities[d.name].delete(id, trx);
        await audit(ctx, d, 'delete', id, {}, trx);
        return { success: 1 as const };
      });
    },
  };
}

import type { EntityDescriptor } from '../../entities/descriptors.js';
import { entitySchemas } from '../../entities/method-schemas.js';
import { entityModel } from '../../entities/model.js';
import type { MethodDefinition, SessionCallContext } from '../../rpc/registry.js';
import { assertOutranks, audit, loadById, titleOf, type Params } from './shared.js';
import { removeTwoFactor } from '../../auth/two-factor.js';
import { notify } from '../../notifications/notify.js';
import { retryingTransaction } from '../../repositories/writer.js';

/**
 * `<Service>/reset_2fa_key` (seed 000: the user lost the phone): removes the
 * principal's TOTP key, so its codes stop working at once and the next login
 * enrolls a new key.
 */
export function reset2faKeyMethod(d: EntityDescriptor & { realm: string }): MethodDefinition<Params, { success: 1 }> {
  const schemas = entitySchemas(entityModel(d)).reset2fa;
  return {
    name: `${d.service}/reset_2fa_key`,
    summary: `Reset the 2FA key of a ${titleOf(d)}.`,
    description:
      "The old key and its codes stop working at once; the next login asks to enroll a new key. An admin user's key can be reset only by an admin holding every permission it holds.",
    access: { kind: 'admin', permission: '2fa.reset' },
    params: schemas.params,
    result: schemas.result,
    faults: ['Server.AccessControl.forbidden', 'Server.NotFound'],
    async handler(params, c) {
      const ctx = c as SessionCallContext;
      const { app } = ctx;
      const id = Number(params[d.idField]);
      return retryingTransaction(app.db, async (trx) => {
        const row = await loadById(app, d, id, trx);
        assertOutranks(ctx, d, row);
        const hadKey = await removeTwoFactor(app, d.realm, id, trx);
        await audit(ctx, d, 'reset_2fa_key', id, { had_key: hadKey }, trx);
        if (hadKey) await notify(app, { kind: 'two_factor_reset', realm: d.realm, principalId: id, row }, trx);
        return { success: 1 as const };
      });
    },
  };
}

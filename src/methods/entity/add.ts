import type { EntityDescriptor } from '../../entities/descriptors.js';
import { entitySchemas } from '../../entities/method-schemas.js';
import { entityModel, toColumns } from '../../entities/model.js';
import { isUniqueViolation } from '../../repositories/entities.js';
import { encryptedColumns } from '../../entities/passwords.js';
import type { MethodDefinition, SessionCallContext } from '../../rpc/registry.js';
import {
  adminSetPasswords,
  assertGrantable,
  audit,
  writeFaults,
  checkReferences,
  fieldNames,
  keyColumn,
  keyTaken,
  passwordDetails,
  titleOf,
  type Params,
} from './shared.js';
import { retryingTransaction } from '../../repositories/writer.js';

/** `<Service>/add_<entity>` → `{ i_<entity> }`. */
export function addMethod(d: EntityDescriptor): MethodDefinition<Params, Record<string, number>> {
  const model = entityModel(d);
  const schemas = entitySchemas(model).add;
  return {
    name: `${d.service}/add_${d.name}`,
    summary: `Create a ${titleOf(d)}.`,
    description: `Returns its \`${d.idField}\`. Passwords must meet the password policy; a web password set here must be changed at the first login unless \`password_must_change\` (default ADMIN_SET_PASSWORD_MUST_CHANGE) says otherwise. \`password_hash\` imports a bcrypt hash from another system instead (working at once unless \`password_must_change\` says otherwise).`,
    access: { kind: 'admin', permission: d.permission },
    params: schemas.params,
    result: schemas.result,
    faults: ['Server.AccessControl.forbidden', ...writeFaults(d, 'add')],
    async handler(params, c) {
      const ctx = c as SessionCallContext;
      const { app } = ctx;
      const repo = app.repos.entities[d.name];
      const now = app.clock.now();
      const key = keyColumn(d, String(params[d.keyField]));
      assertGrantable(ctx, params);
      const secrets = await adminSetPasswords(ctx, d, params, params);
      return retryingTransaction(app.db, async (trx) => {
        if (await repo.findByKey(key.login_key, trx)) throw keyTaken(d);
        await checkReferences(app, d, params, undefined, trx);
        let id: number;
        try {
          id = await repo.insert({ ...toColumns(model, params), ...key, ...secrets, created_at: now, updated_at: now }, trx);
        } catch (err) {
          if (isUniqueViolation(err)) throw keyTaken(d);
          throw err;
        }
        // The encrypted copies are bound to the row id, known only now.
        const sealed = encryptedColumns(app, d, id, params);
        if (Object.keys(sealed).length > 0) await repo.update(id, sealed, trx);
        await audit(ctx, d, 'add', id, { fields: fieldNames(params, d), ...passwordDetails(secrets) }, trx);
        return { [d.idField]: id };
      });
    },
  };
}

import type { EntityDescriptor } from '../../entities/descriptors.js';
import { entitySchemas } from '../../entities/method-schemas.js';
import { entityModel } from '../../entities/model.js';
import { decryptColumn, hasReadableCopy } from '../../entities/passwords.js';
import type { Row } from '../../repositories/entities.js';
import { Fault } from '../../rpc/faults.js';
import type { MethodDefinition, SessionCallContext } from '../../rpc/registry.js';
import { audit, infos, notFound, readableRecord, titleOf, type Params } from './shared.js';

/** `<Service>/get_<entity>_info` by id or by login → `{ <entity>_info }`. */
/** The caller's own id, when it is a principal of this entity's realm; otherwise the call must name a record. */
function ownId(ctx: SessionCallContext, d: EntityDescriptor): number {
  if (!d.realm || ctx.session.realm !== d.realm) {
    throw new Fault('Client.Request.invalid_params', `Invalid params: give ${d.idField} or ${d.keyField}`, {
      errors: [{ path: '/', keyword: 'required', message: `must have ${d.idField} or ${d.keyField}`, params: { missingProperty: d.idField } }],
    });
  }
  return ctx.session.principalId;
}

export function getInfoMethod(d: EntityDescriptor): MethodDefinition<Params, Record<string, unknown>> {
  const schemas = entitySchemas(entityModel(d)).info;
  return {
    name: `${d.service}/get_${d.name}_info`,
    summary: `Read one ${titleOf(d)} by \`${d.idField}\` or by \`${d.keyField}\`${d.realm ? ", or with neither the caller's own" : ''}.`,
    description:
      'The result includes `two_factor_auth_effective` where the entity takes part in the 2FA policy chain.' +
      (d.realm ? ` Admins need \`${d.permission}\`; a ${titleOf(d)} session may read its own record, also without naming it (\`{}\`).` : '') +
      (hasReadableCopy(d)
        ? ' With `get_auth_info: 1` and the `passwords.read` permission it also holds the passwords in plain text; each such read is audited.'
        : ''),
    // Principals may read their own record (a self-care portal's "my account" page); admins need the permission.
    access: d.realm ? { kind: 'session' } : { kind: 'admin', permission: d.permission },
    params: schemas.params,
    result: schemas.result,
    faults: ['Server.AccessControl.forbidden', 'Server.NotFound'],
    async handler(params, c) {
      const ctx = c as SessionCallContext;
      const { app } = ctx;
      const repo = app.repos.entities[d.name];
      // Neither id nor key: the caller's own record (a self-care portal's "my account" page).
      const id = params[d.idField] ?? (params[d.keyField] === undefined ? ownId(ctx, d) : undefined);
      // Who may read: an admin holding the permission, or the principal itself.
      const { row } = await readableRecord(ctx.session, d, () => (typeof id === 'number' ? repo.findById(id) : repo.findByLogin(String(params[d.keyField]))));
      if (!row) throw notFound(d, typeof id === 'number' ? `${d.idField} ${id}` : `this ${d.keyField}`);
      const readBack = params.get_auth_info === 1 && ctx.session.permissions.includes('passwords.read');
      const extra: Row = {};
      if (readBack) {
        extra.password = decryptColumn(app, d, row, 'password_enc');
        if (d.name === 'account') extra.h323_password = decryptColumn(app, d, row, 'h323_password_enc');
        await audit(ctx, d, 'password_read', Number(row[d.idField]), { fields: Object.keys(extra) });
      }
      const [info] = await infos(app, d, [row], [extra]);
      return { [`${d.name}_info`]: info };
    },
  };
}

import type { EntityDescriptor } from '../../entities/descriptors.js';
import { entitySchemas } from '../../entities/method-schemas.js';
import { entityModel } from '../../entities/model.js';
import type { MethodDefinition } from '../../rpc/registry.js';
import { infos, notFound, titleOf, type Params } from './shared.js';

/** `<Service>/get_<entity>_info` by id or by login → `{ <entity>_info }`. */
export function getInfoMethod(d: EntityDescriptor): MethodDefinition<Params, Record<string, unknown>> {
  const schemas = entitySchemas(entityModel(d)).info;
  return {
    name: `${d.service}/get_${d.name}_info`,
    summary: `Read one ${titleOf(d)} by \`${d.idField}\` or by \`${d.keyField}\`.`,
    description: 'The result includes `two_factor_auth_effective` where the entity takes part in the 2FA policy chain.',
    access: { kind: 'admin', permission: d.permission },
    params: schemas.params,
    result: schemas.result,
    faults: ['Server.AccessControl.forbidden', 'Server.NotFound'],
    async handler(params, { app }) {
      const repo = app.repos.entities[d.name];
      const id = params[d.idField];
      const row = typeof id === 'number' ? await repo.findById(id) : await repo.findByKey(String(params[d.keyField]));
      if (!row) throw notFound(d, typeof id === 'number' ? `${d.idField} ${id}` : `this ${d.keyField}`);
      const [info] = await infos(app, d, [row]);
      return { [`${d.name}_info`]: info };
    },
  };
}

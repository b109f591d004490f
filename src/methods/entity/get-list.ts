import type { EntityDescriptor } from '../../entities/descriptors.js';
import { entitySchemas } from '../../entities/method-schemas.js';
import { entityModel } from '../../entities/model.js';
import type { MethodDefinition } from '../../rpc/registry.js';
import { infos, titleOf, type Params } from './shared.js';

/** `<Service>/get_<entity>_list` → `{ <entity>_list, total }`, paged, filtered by parent and login prefix. */
export function getListMethod(d: EntityDescriptor): MethodDefinition<Params, Record<string, unknown>> {
  const schemas = entitySchemas(entityModel(d)).list;
  return {
    name: `${d.service}/get_${d.name}_list`,
    summary: `List ${titleOf(d)}s, ordered by \`${d.idField}\`.`,
    description: `Paged with \`limit\` (default 100, at most 1000) and \`offset\`; \`${d.keyField}_prefix\` matches regardless of case${
      d.references.length ? `; ${d.references.map((r) => `\`${r.field}\``).join(', ')} filter by reference` : ''
    }.`,
    access: { kind: 'admin', permission: d.permission },
    params: schemas.params,
    result: schemas.result,
    faults: ['Server.AccessControl.forbidden'],
    async handler(params, { app }) {
      const filters = Object.fromEntries(d.references.filter((r) => params[r.field] !== undefined).map((r) => [r.field, params[r.field]]));
      const { rows, total } = await app.repos.entities[d.name].list({
        filters,
        prefix: params[`${d.keyField}_prefix`] as string | undefined,
        limit: Number(params.limit),
        offset: Number(params.offset),
      });
      return { [`${d.name}_list`]: await infos(app, d, rows), total };
    },
  };
}

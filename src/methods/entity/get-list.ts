import type { EntityDescriptor } from '../../entities/descriptors.js';
import { entitySchemas } from '../../entities/method-schemas.js';
import { entityModel } from '../../entities/model.js';
import { nextCursor, page, pageResult } from '../../rpc/page.js';
import type { MethodDefinition } from '../../rpc/registry.js';
import { infos, titleOf, type Params } from './shared.js';

/**
 * `<Service>/get_<entity>_list` → `{ <entity>_list, next_cursor, total? }`, filtered by parent and
 * login prefix: by id, or with a prefix by key (a range on the unique key index). Paged by cursor.
 */
export function getListMethod(d: EntityDescriptor): MethodDefinition<Params, Record<string, unknown>> {
  const schemas = entitySchemas(entityModel(d)).list;
  const prefixParam = `${d.keyField}_prefix`;
  return {
    name: `${d.service}/get_${d.name}_list`,
    summary: `List ${titleOf(d)}s, ordered by \`${d.idField}\` (with \`${prefixParam}\`: by ${d.keyField}).`,
    description: `Paged by cursor: pass the \`next_cursor\` of a page as \`cursor\` for the next one (null: no more rows); \`limit\` defaults to 100, at most 1000. \`offset\` still works but reads every skipped row: slow deep in a large list. \`total\` is counted only with \`with_total: true\`. \`${prefixParam}\` matches regardless of case${
      d.references.length ? `; ${d.references.map((r) => `\`${r.field}\``).join(', ')} filter by reference` : ''
    }.`,
    access: { kind: 'admin', permission: d.permission },
    params: schemas.params,
    result: schemas.result,
    faults: ['Server.AccessControl.forbidden'],
    async handler(params, { app }) {
      const filters = Object.fromEntries(d.references.filter((r) => params[r.field] !== undefined).map((r) => [r.field, params[r.field]]));
      const prefix = params[prefixParam] as string | undefined;
      // The two orders have cursors of their own: one of a prefix search is refused without it, and the reverse.
      const [order, keyOf] = prefix
        ? (['key', (row: Record<string, unknown>) => [String(row.login_key)]] as const)
        : (['id', (row: Record<string, unknown>) => [Number(row[d.idField])]] as const);
      const p = page(params, order, [prefix ? 'string' : 'int']);
      const { rows, more, total } = await app.repos.entities[d.name].list({
        filters,
        prefix,
        limit: p.limit,
        offset: p.offset,
        after: p.after?.[0],
        withTotal: p.withTotal,
      });
      return { [`${d.name}_list`]: await infos(app, d, rows), ...pageResult(nextCursor(rows, more, order, keyOf), total) };
    },
  };
}

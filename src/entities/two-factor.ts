import type { Knex } from 'knex';
import { childRequires2fa, customerRequires2fa, type TriState } from '../domain/two-factor-policy.js';
import type { EntityRepository, Row } from '../repositories/entities.js';
import type { EntityDescriptor, EntityName } from './descriptors.js';

type Repos = Record<EntityName, EntityRepository>;

const ids = (rows: Row[], field: string) => [...new Set(rows.map((r) => r[field]).filter((v): v is number => typeof v === 'number'))];

async function byId(repo: EntityRepository, wanted: number[], trx?: Knex.Transaction): Promise<Map<number, Row>> {
  const rows = await repo.findByIds(wanted, trx);
  return new Map(rows.map((r) => [Number(r[repo.descriptor.idField]), r]));
}

/**
 * `two_factor_auth_effective` for a page of rows of one entity, reading the
 * chain above them in one batched query (no per-row lookups).
 */
export async function effective2fa(repos: Repos, d: EntityDescriptor, rows: Row[], trx?: Knex.Transaction): Promise<boolean[]> {
  switch (d.twoFactor) {
    case 'boolean':
      return rows.map((r) => Boolean(r.two_factor_auth));
    case 'binary':
      return rows.map((r) => r.two_factor_auth === 'enabled');
    case 'tristate':
      break;
  }
  if (d.name === 'customer') {
    const classes = await byId(repos.customer_class, ids(rows, 'i_customer_class'), trx);
    return rows.map((r) => {
      const cls = classes.get(Number(r.i_customer_class));
      return customerRequires2fa(r.two_factor_auth as TriState, cls ? Boolean(cls.two_factor_auth) : undefined);
    });
  }
  // Both levels above in one statement (the customer joined with its class): every get_account_info reads them.
  const found = await repos.customer.findWithClass2fa(ids(rows, 'i_customer'), trx);
  const customers = new Map(found.map((c) => [Number(c.i_customer), c]));
  return rows.map((r) => {
    const customer = customers.get(Number(r.i_customer));
    const classSetting = customer?.class_two_factor_auth;
    return childRequires2fa(
      r.two_factor_auth as TriState,
      (customer?.two_factor_auth as TriState | undefined) ?? 'inherit',
      classSetting === null || classSetting === undefined ? undefined : Boolean(classSetting),
    );
  });
}

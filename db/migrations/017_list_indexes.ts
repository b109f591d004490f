import type { Knex } from 'knex';

/**
 * Indexes that serve every filter and order of the admin lists (keyset paging, issue 19), so a
 * page reads `limit + 1` index entries in order whatever the table's size:
 *
 * - `get_<entity>_list` by a parent reference, ordered by id: `(reference, id)`. Explicit on both
 *   engines: InnoDB silently drops the index it made for a foreign key once another index starts
 *   with that column, and `(reference, login_key)` below would, yet could not serve the id order.
 * - the same with a prefix, ordered by key: `(reference, login_key)` (the unique `login_key` index
 *   serves a prefix alone).
 * - `AuditLog/get_event_list`, newest first by `at` (then `i_event`, the primary key, which both
 *   engines keep as every index's last column): `(filter..., at)` for each filter; `(at)` exists.
 */
const REFERENCES = [
  { table: 'customers', id: 'i_customer', ref: 'i_customer_class' },
  { table: 'customers', id: 'i_customer', ref: 'i_parent' },
  { table: 'customer_individuals', id: 'i_customer_individual', ref: 'i_customer' },
  { table: 'accounts', id: 'i_account', ref: 'i_customer' },
] as const;

export async function up(knex: Knex): Promise<void> {
  for (const { table, id, ref } of REFERENCES) {
    await knex.schema.alterTable(table, (t) => {
      t.index([ref, id], `${table}_${ref}_id_list`);
      t.index([ref, 'login_key'], `${table}_${ref}_key_list`);
    });
  }
  await knex.schema.alterTable('audit_log', (t) => {
    t.dropIndex(['entity', 'entity_id']);
    t.dropIndex(['event']);
  });
  await knex.schema.alterTable('audit_log', (t) => {
    t.index(['realm', 'at'], 'audit_log_realm_at_list');
    t.index(['entity', 'at'], 'audit_log_entity_at_list');
    t.index(['entity', 'entity_id', 'at'], 'audit_log_entity_id_at_list');
    t.index(['event', 'at'], 'audit_log_event_at_list');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('audit_log', (t) => {
    t.index(['entity', 'entity_id']);
    t.index(['event']);
  });
  await knex.schema.alterTable('audit_log', (t) => {
    for (const name of ['realm_at', 'entity_at', 'entity_id_at', 'event_at']) t.dropIndex([], `audit_log_${name}_list`);
  });
  for (const { table, ref } of REFERENCES) {
    await knex.schema.alterTable(table, (t) => {
      // On InnoDB the foreign key needs an index on its column: a plain one, as it had before.
      t.index([ref]);
      t.dropIndex([], `${table}_${ref}_id_list`);
      t.dropIndex([], `${table}_${ref}_key_list`);
    });
  }
}

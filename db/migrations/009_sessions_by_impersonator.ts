import type { Knex } from 'knex';

/**
 * Ending the sessions an admin opened as others (its block, password,
 * logout everywhere, or loss of `sessions.impersonate`) finds them by
 * `impersonated_by`: without an index that UPDATE reads, and on InnoDB
 * locks, every session row until it commits.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('sessions', (t) => {
    t.index(['impersonated_by']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('sessions', (t) => {
    t.dropIndex(['impersonated_by']);
  });
}

import type { Knex } from 'knex';

/**
 * Brute-force counters count attempts still being evaluated apart from
 * failures: only failures may lock (see src/repositories/login-guards.ts).
 * Nothing is in flight while the service is down for the migration.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('login_guards', (t) => {
    t.integer('in_flight').notNullable().defaultTo(0);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('login_guards', (t) => {
    t.dropColumn('in_flight');
  });
}

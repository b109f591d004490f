import type { Knex } from 'knex';

/**
 * The session change feed: one row per change that can end a session or alter
 * what it may do (revocation, logout, a principal blocked, deleted or given
 * other permissions). It is written in the transaction of the change itself;
 * every replica reads it before trusting its in-process session cache, so a
 * revocation takes effect at once everywhere. Rows are kept for an hour.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('session_changes', (t) => {
    t.bigIncrements('seq').primary();
    // A session, or every session of a principal (and those it impersonates, for an admin).
    t.string('session_id', 36);
    t.string('realm', 32);
    t.integer('principal_id');
    t.bigInteger('created_at').notNullable().index();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('session_changes');
}

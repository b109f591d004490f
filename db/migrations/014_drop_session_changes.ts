import type { Knex } from 'knex';

/**
 * The session change feed of 006 is gone: every call reads its session row
 * (auth/session-reads.ts), which tells a revocation apart however commits are
 * ordered, and nothing writes or reads the feed any more. Its rows were only
 * kept for an hour, so dropping it loses nothing.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('session_changes');
}

/** The table as 006 made it, empty: nothing would fill it again. */
export async function down(knex: Knex): Promise<void> {
  await knex.schema.createTable('session_changes', (t) => {
    t.bigIncrements('seq').primary();
    t.string('session_id', 36);
    t.string('realm', 32);
    t.integer('principal_id');
    t.bigInteger('created_at').notNullable().index();
  });
}

import type { Knex } from 'knex';

/**
 * The notification outbox: rows are written in the same transaction as the
 * event they announce, and a delivery worker sends them. Throttles keep
 * "wrong code" mails to one per interval, counting the ones folded in.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('notifications', (t) => {
    t.increments('id').primary();
    t.string('kind', 48).notNullable();
    t.string('realm', 32).notNullable();
    t.integer('principal_id').notNullable();
    t.string('recipient', 254).notNullable();
    // Facts for the template (time, IP, user agent, counts): never a secret.
    t.text('data').notNullable();
    t.string('status', 16).notNullable();
    t.integer('attempts').notNullable().defaultTo(0);
    t.bigInteger('next_attempt_at').notNullable();
    t.string('claimed_by', 64);
    t.bigInteger('claimed_until');
    t.string('last_error', 512);
    t.bigInteger('logged_at');
    t.bigInteger('created_at').notNullable();
    t.bigInteger('sent_at');
    t.index(['status', 'next_attempt_at']);
  });
  await knex.schema.createTable('notification_throttles', (t) => {
    t.string('realm', 32).notNullable();
    t.integer('principal_id').notNullable();
    t.string('kind', 48).notNullable();
    t.bigInteger('last_enqueued_at').notNullable();
    t.integer('suppressed').notNullable().defaultTo(0);
    t.primary(['realm', 'principal_id', 'kind']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('notification_throttles');
  await knex.schema.dropTable('notifications');
}

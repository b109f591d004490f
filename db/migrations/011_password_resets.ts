import type { Knex } from 'knex';

/**
 * Forgotten passwords (Session/request_password_reset, Session/reset_password).
 *
 * `password_resets`: at most one reset token per principal (a new request
 * replaces the old one), stored as the SHA-256 of a 256-bit random token,
 * never the token. `expires_at` is indexed so that expired rows can be
 * deleted in bulk by a retention job without reading the table.
 *
 * `notifications.secret_enc`: what a mail must carry but no column may hold
 * in plain text (the reset token and its link), sealed with the keyring and
 * bound to its row; erased once the mail is sent or given up.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('password_resets', (t) => {
    t.string('realm', 32).notNullable();
    t.integer('principal_id').notNullable();
    t.string('token_hash', 64).notNullable().unique();
    t.string('ip', 64);
    t.bigInteger('created_at').notNullable();
    t.bigInteger('expires_at').notNullable();
    t.bigInteger('used_at');
    t.primary(['realm', 'principal_id']);
    t.index(['expires_at']);
  });
  await knex.schema.alterTable('notifications', (t) => {
    t.text('secret_enc');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('notifications', (t) => {
    t.dropColumn('secret_enc');
  });
  await knex.schema.dropTable('password_resets');
}

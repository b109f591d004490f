import type { Knex } from 'knex';

/**
 * Admin users and sessions: what the foundation needs to bootstrap `root` and
 * authenticate callers. Times are epoch milliseconds (BIGINT) on every engine so
 * comparisons never depend on a server time zone.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('users', (t) => {
    t.increments('i_user').primary();
    t.string('login', 64).notNullable();
    // Logins are unique per realm regardless of case; a lower-cased copy makes
    // that hold identically on SQLite (case-sensitive) and MySQL collations.
    t.string('login_key', 64).notNullable().unique();
    t.string('name', 128);
    t.string('email', 254);
    t.text('permissions').notNullable();
    t.boolean('is_root').notNullable().defaultTo(false);
    t.boolean('two_factor_auth').notNullable().defaultTo(false);
    t.boolean('blocked').notNullable().defaultTo(false);
    t.string('password_hash', 72).notNullable();
    t.bigInteger('password_set_at').notNullable();
    t.boolean('password_must_change').notNullable().defaultTo(false);
    t.bigInteger('created_at').notNullable();
    t.bigInteger('updated_at').notNullable();
  });

  await knex.schema.createTable('sessions', (t) => {
    t.string('id', 36).primary();
    t.string('realm', 32).notNullable();
    t.integer('principal_id').notNullable();
    t.string('amr', 64).notNullable();
    t.boolean('restricted').notNullable().defaultTo(false);
    t.integer('impersonated_by');
    // sha256 of the current refresh token; the token itself is never stored.
    t.string('refresh_token_hash', 64);
    t.string('ip', 64);
    t.string('user_agent', 256);
    t.bigInteger('created_at').notNullable();
    t.bigInteger('last_seen_at').notNullable();
    t.bigInteger('expires_at').notNullable();
    t.bigInteger('revoked_at');
    t.string('revoke_reason', 32);
    t.index(['realm', 'principal_id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('sessions');
  await knex.schema.dropTable('users');
}

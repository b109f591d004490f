import type { Knex } from 'knex';

/**
 * Two-factor login: pending challenges (mfa tokens), the last accepted TOTP
 * step per key (replay protection, RFC 6238 section 5.2), recovery codes,
 * brute-force counters and login rate windows. All of it is shared state,
 * so it lives here and holds across replicas.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('two_factor_keys', (t) => {
    t.bigInteger('last_used_step');
  });
  await knex.schema.alterTable('sessions', (t) => {
    // One generation back: presenting it again is refresh-token reuse (theft).
    t.string('previous_refresh_token_hash', 64);
  });
  await knex.schema.createTable('mfa_challenges', (t) => {
    t.string('token_hash', 64).primary();
    t.string('realm', 32).notNullable();
    t.integer('principal_id').notNullable();
    t.string('kind', 16).notNullable();
    t.string('ip', 64);
    t.bigInteger('created_at').notNullable();
    t.bigInteger('expires_at').notNullable();
    t.bigInteger('consumed_at');
    t.index(['realm', 'principal_id']);
  });
  await knex.schema.createTable('recovery_codes', (t) => {
    t.increments('id').primary();
    t.string('realm', 32).notNullable();
    t.integer('principal_id').notNullable();
    t.string('code_hash', 64).notNullable();
    t.bigInteger('created_at').notNullable();
    t.bigInteger('used_at');
    t.unique(['realm', 'principal_id', 'code_hash']);
  });
  await knex.schema.createTable('login_guards', (t) => {
    t.string('scope', 16).notNullable();
    t.string('guard_key', 160).notNullable();
    t.integer('failures').notNullable().defaultTo(0);
    t.integer('lock_count').notNullable().defaultTo(0);
    t.bigInteger('locked_until');
    t.bigInteger('updated_at').notNullable();
    t.primary(['scope', 'guard_key']);
  });
  await knex.schema.createTable('rate_windows', (t) => {
    t.string('rate_key', 160).notNullable();
    t.bigInteger('window_start').notNullable();
    t.integer('hits').notNullable().defaultTo(0);
    t.primary(['rate_key', 'window_start']);
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['rate_windows', 'login_guards', 'recovery_codes', 'mfa_challenges']) await knex.schema.dropTable(table);
  await knex.schema.alterTable('sessions', (t) => {
    t.dropColumn('previous_refresh_token_hash');
  });
  await knex.schema.alterTable('two_factor_keys', (t) => {
    t.dropColumn('last_used_step');
  });
}

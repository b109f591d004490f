import type { Knex } from 'knex';

const ENCRYPTED_PASSWORD_TABLES = ['customers', 'customer_individuals', 'accounts', 'representatives', 'vendors'];

/**
 * Readable copies of passwords, encrypted (never plain), the account service
 * password, per-class password policy overrides, and the per-key salts the
 * encryption keys are derived with (the passphrases stay outside the database).
 */
export async function up(knex: Knex): Promise<void> {
  for (const table of ENCRYPTED_PASSWORD_TABLES) {
    await knex.schema.alterTable(table, (t) => {
      t.text('password_enc');
    });
  }
  await knex.schema.alterTable('accounts', (t) => {
    t.text('h323_password_enc');
  });
  await knex.schema.alterTable('customer_classes', (t) => {
    t.integer('password_min_length');
    t.text('password_complexity_rules');
  });
  await knex.schema.createTable('encryption_keys', (t) => {
    t.string('key_id', 32).primary();
    t.string('salt', 64).notNullable();
    t.bigInteger('created_at').notNullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('encryption_keys');
  await knex.schema.alterTable('customer_classes', (t) => {
    t.dropColumn('password_min_length');
    t.dropColumn('password_complexity_rules');
  });
  await knex.schema.alterTable('accounts', (t) => {
    t.dropColumn('h323_password_enc');
  });
  for (const table of ENCRYPTED_PASSWORD_TABLES) {
    await knex.schema.alterTable(table, (t) => {
      t.dropColumn('password_enc');
    });
  }
}

import type { Knex } from 'knex';

/** Columns every principal table shares: login, contact, credentials, 2FA setting. */
function principalColumns(t: Knex.CreateTableBuilder, twoFactor: (t: Knex.CreateTableBuilder) => void): void {
  t.string('login', 64).notNullable();
  // Lower-cased login: uniqueness per realm regardless of case on every engine.
  t.string('login_key', 64).notNullable().unique();
  t.string('name', 128);
  t.string('email', 254);
  t.boolean('blocked').notNullable().defaultTo(false);
  twoFactor(t);
  t.string('password_hash', 72);
  t.bigInteger('password_set_at');
  t.boolean('password_must_change').notNullable().defaultTo(false);
  t.bigInteger('created_at').notNullable();
  t.bigInteger('updated_at').notNullable();
}

const tristate = (t: Knex.CreateTableBuilder) => t.string('two_factor_auth', 8).notNullable().defaultTo('inherit');
const binary = (t: Knex.CreateTableBuilder) => t.string('two_factor_auth', 8).notNullable().defaultTo('disabled');

/**
 * The billing side: customer classes, customers (with resellers as parents),
 * customer individuals, accounts, representatives, vendors; 2FA keys; the
 * audit log.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('customer_classes', (t) => {
    t.increments('i_customer_class').primary();
    t.string('name', 64).notNullable();
    t.string('login_key', 64).notNullable().unique();
    t.boolean('two_factor_auth').notNullable().defaultTo(false);
    t.bigInteger('created_at').notNullable();
    t.bigInteger('updated_at').notNullable();
  });

  await knex.schema.createTable('customers', (t) => {
    t.increments('i_customer').primary();
    t.string('customer_type', 16).notNullable().defaultTo('retail');
    t.integer('i_customer_class').unsigned().references('i_customer_class').inTable('customer_classes').onDelete('RESTRICT');
    t.integer('i_parent').unsigned().references('i_customer').inTable('customers').onDelete('RESTRICT');
    principalColumns(t, tristate);
  });

  await knex.schema.createTable('customer_individuals', (t) => {
    t.increments('i_customer_individual').primary();
    t.integer('i_customer').unsigned().notNullable().references('i_customer').inTable('customers').onDelete('RESTRICT');
    principalColumns(t, tristate);
  });

  await knex.schema.createTable('accounts', (t) => {
    t.increments('i_account').primary();
    t.integer('i_customer').unsigned().notNullable().references('i_customer').inTable('customers').onDelete('RESTRICT');
    principalColumns(t, tristate);
  });

  await knex.schema.createTable('representatives', (t) => {
    t.increments('i_representative').primary();
    principalColumns(t, binary);
  });

  await knex.schema.createTable('vendors', (t) => {
    t.increments('i_vendor').primary();
    principalColumns(t, binary);
  });

  // One TOTP key per principal; the secret is stored encrypted (see the password issue).
  await knex.schema.createTable('two_factor_keys', (t) => {
    t.string('realm', 32).notNullable();
    t.integer('principal_id').notNullable();
    t.text('secret_enc').notNullable();
    t.string('status', 16).notNullable();
    t.bigInteger('created_at').notNullable();
    t.bigInteger('activated_at');
    t.primary(['realm', 'principal_id']);
  });

  await knex.schema.createTable('audit_log', (t) => {
    t.bigIncrements('i_event').primary();
    t.bigInteger('at').notNullable();
    t.string('event', 64).notNullable();
    t.string('actor_realm', 32);
    t.integer('actor_id');
    t.string('session_id', 36);
    t.string('realm', 32);
    t.string('entity', 32);
    t.integer('entity_id');
    t.string('ip', 64);
    t.text('details');
    t.index(['at']);
    t.index(['entity', 'entity_id']);
    t.index(['event']);
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['audit_log', 'two_factor_keys', 'vendors', 'representatives', 'accounts', 'customer_individuals', 'customers', 'customer_classes']) {
    await knex.schema.dropTable(table);
  }
}

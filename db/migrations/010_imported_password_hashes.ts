import type { Knex } from 'knex';

const PRINCIPAL_TABLES = ['users', 'customers', 'customer_individuals', 'accounts', 'representatives', 'vendors'];

/**
 * Marks a web password hash imported from another system (`password_hash` on
 * add/update): at the principal's first login with the right password it is
 * replaced by one of the service's own and, where one is kept, the readable
 * encrypted copy that could not be made from a hash is taken.
 */
export async function up(knex: Knex): Promise<void> {
  for (const table of PRINCIPAL_TABLES) {
    await knex.schema.alterTable(table, (t) => {
      t.boolean('password_hash_imported').notNullable().defaultTo(false);
    });
  }
}

export async function down(knex: Knex): Promise<void> {
  for (const table of PRINCIPAL_TABLES) {
    await knex.schema.alterTable(table, (t) => {
      t.dropColumn('password_hash_imported');
    });
  }
}

import type { Knex } from 'knex';

/**
 * `Session/get_session_list` pages a principal's sessions newest first: `(realm, principal_id,
 * created_at, id)` serves that order (`id` is spelled out: on SQLite a text primary key is not the
 * rowid every index ends in) and everything the old `(realm, principal_id)` index served, which it replaces (one
 * index more to write on every login would buy nothing). `PortalClient/get_portal_client_list`:
 * `(created_at, portal_client_id)` for all clients, `(revoked_at, created_at, portal_client_id)` for the
 * live ones.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('sessions', (t) => {
    t.index(['realm', 'principal_id', 'created_at', 'id'], 'sessions_principal_created_list');
  });
  await knex.schema.alterTable('sessions', (t) => {
    t.dropIndex(['realm', 'principal_id']);
  });
  await knex.schema.alterTable('portal_clients', (t) => {
    t.index(['created_at', 'portal_client_id'], 'portal_clients_created_list');
    t.index(['revoked_at', 'created_at', 'portal_client_id'], 'portal_clients_live_created_list');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('portal_clients', (t) => {
    t.dropIndex([], 'portal_clients_created_list');
    t.dropIndex([], 'portal_clients_live_created_list');
  });
  await knex.schema.alterTable('sessions', (t) => {
    t.index(['realm', 'principal_id']);
  });
  await knex.schema.alterTable('sessions', (t) => {
    t.dropIndex([], 'sessions_principal_created_list');
  });
}

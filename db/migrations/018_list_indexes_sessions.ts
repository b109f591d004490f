import type { Knex } from 'knex';

/**
 * `Session/get_session_list` pages a principal's sessions newest first: `(realm, principal_id,
 * created_at)` serves that order (the primary key `id` is the index's last column on both
 * engines) and everything the old `(realm, principal_id)` index served, which it replaces (one
 * index more to write on every login would buy nothing). `PortalClient/get_portal_client_list`:
 * `(created_at)` for all clients, `(revoked_at, created_at)` for the live ones.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('sessions', (t) => {
    t.index(['realm', 'principal_id', 'created_at'], 'sessions_principal_created_list');
  });
  await knex.schema.alterTable('sessions', (t) => {
    t.dropIndex(['realm', 'principal_id']);
  });
  await knex.schema.alterTable('portal_clients', (t) => {
    t.index(['created_at'], 'portal_clients_created_list');
    t.index(['revoked_at', 'created_at'], 'portal_clients_live_created_list');
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

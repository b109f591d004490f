import type { Knex } from 'knex';

/**
 * Trusted portal servers. A portal client is a credential of its own (an id
 * and a secret, only the secret's SHA-256 stored) that lets a server-side
 * portal name its end user's IP on each call, so the per-IP limits count the
 * end user, not the portal (see src/rpc/call-origin.ts).
 *
 * The audit log records, on every row a call writes, the portal client that
 * vouched for its IP, or the end-user IP a call named without a valid
 * credential (ignored). Root holds every permission, including the new
 * `portal_clients.manage`.
 */
const PERMISSION = 'portal_clients.manage';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('portal_clients', (t) => {
    // `pc_` and 16 lower-case hex digits; public, like a client_id.
    t.string('portal_client_id', 32).primary();
    t.string('name', 100).notNullable();
    // SHA-256 hex of a 256-bit random secret.
    t.string('secret_hash', 64).notNullable();
    t.bigInteger('created_at').notNullable();
    t.bigInteger('revoked_at');
  });
  await knex.schema.alterTable('audit_log', (t) => {
    t.string('portal_client_id', 32);
    t.string('end_user_ip_ignored', 64);
  });
  const roots = (await knex('users').where({ is_root: true }).select('i_user', 'permissions')) as Array<{ i_user: number; permissions: string }>;
  for (const root of roots) {
    const held = JSON.parse(root.permissions) as string[];
    if (!held.includes(PERMISSION))
      await knex('users')
        .where({ i_user: root.i_user })
        .update({ permissions: JSON.stringify([...held, PERMISSION]) });
  }
}

export async function down(knex: Knex): Promise<void> {
  const roots = (await knex('users').where({ is_root: true }).select('i_user', 'permissions')) as Array<{ i_user: number; permissions: string }>;
  for (const root of roots) {
    const held = JSON.parse(root.permissions) as string[];
    await knex('users')
      .where({ i_user: root.i_user })
      .update({ permissions: JSON.stringify(held.filter((p) => p !== PERMISSION)) });
  }
  await knex.schema.alterTable('audit_log', (t) => {
    t.dropColumn('portal_client_id');
    t.dropColumn('end_user_ip_ignored');
  });
  await knex.schema.dropTable('portal_clients');
}

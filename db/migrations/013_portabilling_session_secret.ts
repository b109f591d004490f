import type { Knex } from 'knex';

/**
 * PortaBilling wire compatibility (issue 16).
 *
 * `session_secret_hash`: the sha256 of the secret part of the `session_id`
 * credential that Session/login answers on the PortaBilling transport
 * (`<session uuid>.<secret>`). It is a secret of its own: the session's
 * uuid is shown by Session/get_session_list and the audit log, so it must
 * never be enough to act as the session. Only the hash is stored; the
 * credential dies with its row (revocation, expiry, logout).
 *
 * `rotated_at`: when the refresh token was last rotated, so that a
 * REFRESH_REUSE_GRACE can tell a just-rotated token presented again by a
 * sibling worker from a replayed one, and answer it the same pair.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('sessions', (t) => {
    t.string('session_secret_hash', 64);
    t.bigInteger('rotated_at');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('sessions', (t) => {
    t.dropColumn('session_secret_hash');
    t.dropColumn('rotated_at');
  });
}

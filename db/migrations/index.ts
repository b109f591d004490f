import type { Knex } from 'knex';
import * as m001 from './001_foundation.js';
import * as m002 from './002_identity.js';
import * as m003 from './003_passwords.js';
import * as m004 from './004_two_factor_login.js';
import * as m005 from './005_notifications.js';
import * as m006 from './006_session_changes.js';
import * as m007 from './007_login_normalization.js';
import * as m008 from './008_login_guard_in_flight.js';
import * as m009 from './009_sessions_by_impersonator.js';
import * as m010 from './010_imported_password_hashes.js';
import * as m011 from './011_password_resets.js';
import * as m012 from './012_portal_clients.js';
import * as m013 from './013_portabilling_session_secret.js';
import * as m014 from './014_drop_session_changes.js';
import * as m017 from './017_list_indexes.js';
import * as m018 from './018_list_indexes_sessions.js';
import * as m019 from './019_retention_indexes.js';

/**
 * The ordered migration set. Listing modules (instead of letting knex scan a
 * folder) makes the same set run from TypeScript sources in tests and from the
 * compiled `dist/` in production, on SQLite and MySQL alike.
 */
const migrations: Record<string, Knex.Migration> = {
  '001_foundation': m001,
  '002_identity': m002,
  '003_passwords': m003,
  '004_two_factor_login': m004,
  '005_notifications': m005,
  '006_session_changes': m006,
  '007_login_normalization': m007,
  '008_login_guard_in_flight': m008,
  '009_sessions_by_impersonator': m009,
  '010_imported_password_hashes': m010,
  '011_password_resets': m011,
  '012_portal_clients': m012,
  '013_portabilling_session_secret': m013,
  '014_drop_session_changes': m014,
  '017_list_indexes': m017,
  '018_list_indexes_sessions': m018,
  '019_retention_indexes': m019,
};

export const migrationSource: Knex.MigrationSource<string> = {
  getMigrations: async () => Object.keys(migrations),
  getMigrationName: (name) => name,
  getMigration: async (name) => {
    const migration = migrations[name];
    if (!migration) throw new Error(`unknown migration ${name}`);
    return migration;
  },
};

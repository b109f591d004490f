import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startServer, type RunningServer } from './cli.js';

/**
 * What every replica of one deployment shares besides the database: the token
 * key and the password-encryption keyring (in `dir`), a low bcrypt cost.
 * No BOOTSTRAP_ADMIN_PASSWORD: each replica would generate its own root
 * password, so exactly one announcement proves root was created once.
 */
export function replicaSettings(dir: string): Record<string, string> {
  const keyring = join(dir, 'keyring.json');
  writeFileSync(keyring, JSON.stringify({ primary: 'k1', keys: { k1: 'replicas-share-this-passphrase-0123' } }), { mode: 0o600 });
  return { DATA_DIR: dir, KEYRING_FILE: keyring, JWT_SECRET: 'replicas-share-this-jwt-secret-0123456789', BCRYPT_COST: '4' };
}

/**
 * Starts one `serve` per database URL, all at the same moment. Resolves once
 * all listen; if any fails to start the others are killed and it rejects.
 */
export async function startReplicas(urls: string[], settings: Record<string, string>, startMs = 90_000): Promise<RunningServer[]> {
  const started = await Promise.allSettled(urls.map((url) => startServer({ ...settings, DATABASE_URL: url }, startMs)));
  const servers = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failed = started.flatMap((s, i) => (s.status === 'rejected' ? [`replica ${i + 1}: ${String(s.reason)}`] : []));
  if (failed.length > 0) {
    await Promise.all(servers.map((s) => s.kill()));
    throw new Error(failed.join('\n'));
  }
  return servers;
}

/** The bootstrap announcements in the replicas' output (one per root created). */
export const announcements = (servers: RunningServer[]) => servers.filter((s) => /created the admin "root"/.test(s.output())).length;

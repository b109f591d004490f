import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import { isUniqueViolation } from './entities.js';

/**
 * Per-key salts for deriving encryption keys from keyring passphrases. The
 * salt is not secret; keeping it in the database lets every replica derive
 * the same key from the same passphrase while the passphrase itself stays in
 * the keyring file.
 */
export function createEncryptionKeysRepository(knex: Knex) {
  const table = () => knex<{ key_id: string; salt: string; created_at: number }>('encryption_keys');
  return {
    async saltFor(keyId: string, now: number): Promise<Buffer> {
      const existing = await table().where({ key_id: keyId }).first();
      if (existing) return Buffer.from(existing.salt, 'base64url');
      try {
        await table().insert({ key_id: keyId, salt: randomBytes(16).toString('base64url'), created_at: now });
      } catch (err) {
        // Another replica created it first: use theirs.
        if (!isUniqueViolation(err)) throw err;
      }
      const row = await table().where({ key_id: keyId }).first();
      if (!row) throw new Error(`salt for key ${keyId} vanished`);
      return Buffer.from(row.salt, 'base64url');
    },
  };
}

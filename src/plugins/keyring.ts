import { readFile } from 'node:fs/promises';
import fp from 'fastify-plugin';
import type { Knex } from 'knex';
import { ConfigError } from '../config/load.js';
import { deriveKey, Keyring, KeyringError, parseKeyringFile } from '../domain/crypto/keyring.js';
import { createEncryptionKeysRepository } from '../repositories/encryption-keys.js';

declare module 'fastify' {
  interface FastifyInstance {
    keyring: {
      /** The ring in force: encrypts with the primary key, decrypts with any. */
      current(): Keyring;
      /** Re-reads KEYRING_FILE (SIGHUP); on a bad file the ring in force stays. */
      reload(): Promise<void>;
    };
  }
}

/** Reads and derives the ring from a keyring file; every problem is a ConfigError naming the file. */
export async function loadKeyring(path: string, knex: Knex, now: number): Promise<Keyring> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError([`KEYRING_FILE ${path} cannot be read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`]);
  }
  try {
    const file = parseKeyringFile(text, path);
    const salts = createEncryptionKeysRepository(knex);
    const keys = new Map<string, Buffer>();
    for (const [id, passphrase] of Object.entries(file.keys)) {
      keys.set(id, await deriveKey(passphrase, await salts.saltFor(id, now)));
    }
    return new Keyring(file.primary, keys);
  } catch (err) {
    if (err instanceof KeyringError) throw new ConfigError([`KEYRING_FILE: ${err.message}`]);
    throw err;
  }
}

export default fp(
  async (app) => {
    const path = app.secrets.keyringFile;
    let ring = await loadKeyring(path, app.db.knex, app.clock.now());

    const readAgain = async () => {
      try {
        ring = await loadKeyring(path, app.db.knex, app.clock.now());
        app.log.info({ primary: ring.primaryId, keys: ring.keyIds }, 'keyring reloaded');
      } catch (err) {
        app.log.error({ err: err instanceof Error ? err.message : String(err) }, 'keyring reload failed; keeping the keyring in force');
      }
    };
    // One reload at a time, in signal order: two quick SIGHUPs must not let
    // the slower, older read win over the newer file.
    let reloading = Promise.resolve();
    const reload = () => (reloading = reloading.then(readAgain));
    const onHup = () => void reload();
    process.on('SIGHUP', onHup);
    app.addHook('onClose', async () => {
      process.off('SIGHUP', onHup);
    });
    app.decorate('keyring', { current: () => ring, reload });
  },
  { name: 'keyring', dependencies: ['config', 'database', 'secrets'] },
);

import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import fp from 'fastify-plugin';
import { ConfigError } from '../config/load.js';
import type { Config } from '../config/schema.js';

/** The keyring file in use: configured, or the one generated into DATA_DIR. */
export const keyringPath = (config: Config): string => config.KEYRING_FILE ?? join(resolve(config.DATA_DIR), 'keyring.json');

declare module 'fastify' {
  interface FastifyInstance {
    secrets: {
      jwtSecret: string;
      /** Path of the keyring file in use (configured or generated). */
      keyringFile: string;
    };
  }
}

/**
 * Writes a secret once, readable only by the service user (0600). `wx` refuses
 * to overwrite, so two replicas starting at once cannot clobber each other's key.
 */
function generateOnce(path: string, content: () => string): boolean {
  if (existsSync(path)) return false;
  try {
    writeFileSync(path, content(), { mode: 0o600, flag: 'wx' });
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
}

function readSecretFile(setting: string, path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (err) {
    throw new ConfigError([`${setting} ${path} cannot be read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`]);
  }
}

/**
 * The secrets the service signs and encrypts with. Production configures them
 * (`JWT_SECRET`/`JWT_SECRET_FILE`, `KEYRING_FILE`); the embedded default
 * generates them into `DATA_DIR` on first start, with a warning.
 */
export default fp(
  async (app) => {
    const { config } = app;
    const dataDir = resolve(config.DATA_DIR);
    const needsDataDir = !(config.JWT_SECRET || config.JWT_SECRET_FILE) || !config.KEYRING_FILE;
    if (needsDataDir) {
      mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    }

    let jwtSecret: string;
    if (config.JWT_SECRET) {
      jwtSecret = config.JWT_SECRET;
    } else if (config.JWT_SECRET_FILE) {
      jwtSecret = readSecretFile('JWT_SECRET_FILE', config.JWT_SECRET_FILE);
      if (jwtSecret.length < 32) throw new ConfigError([`JWT_SECRET_FILE ${config.JWT_SECRET_FILE} must hold at least 32 characters`]);
    } else {
      const path = join(dataDir, 'jwt-secret');
      if (generateOnce(path, () => randomBytes(48).toString('base64url'))) {
        app.log.warn({ path }, 'generated a JWT signing key; production must set JWT_SECRET or JWT_SECRET_FILE');
      }
      chmodSync(path, 0o600);
      jwtSecret = readSecretFile('JWT_SECRET_FILE', path);
    }

    let keyringFile: string;
    if (config.KEYRING_FILE) {
      keyringFile = config.KEYRING_FILE;
    } else {
      keyringFile = keyringPath(config);
      const created = generateOnce(keyringFile, () => JSON.stringify({ primary: 'k1', keys: { k1: randomBytes(32).toString('base64url') } }, null, 2) + '\n');
      if (created) app.log.warn({ path: keyringFile }, 'generated a password-encryption keyring; production must set KEYRING_FILE');
    }

    app.decorate('secrets', { jwtSecret, keyringFile });
  },
  { name: 'secrets', dependencies: ['config'] },
);

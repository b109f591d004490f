import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import mysql from 'mysql2/promise';
import { runCli } from '../helpers/cli.js';
import { createTestDatabase, databaseTargets } from '../helpers/databases.js';

const dir = mkdtempSync(join(tmpdir(), 'billing-auth-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const JWT_SECRET = 'j'.repeat(40);
const GOOD_PASSPHRASE = 'a-good-passphrase-0123';
const SHORT_PASSPHRASE = 'short-passphras'; // 15 characters

function keyringFile(name: string, passphrase: string): string {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify({ primary: 'k1', keys: { k1: passphrase } }));
  return path;
}

/** Neither stream of a CLI run shows `secret`. */
function assertNotShown(result: { stdout: string; stderr: string }, secret: string): void {
  assert.ok(!result.stdout.includes(secret) && !result.stderr.includes(secret), 'the secret is not printed');
}

test('config check refuses a KEYRING_FILE that does not exist, naming it (exit 78)', () => {
  const missing = join(dir, 'no-such-keyring.json');
  const result = runCli(['config', 'check'], { JWT_SECRET, DATA_DIR: dir, KEYRING_FILE: missing });
  assert.equal(result.status, 78, result.stdout);
  assert.ok(result.stderr.includes(`KEYRING_FILE ${missing} cannot be read: ENOENT`), result.stderr);
  assert.doesNotMatch(result.stdout, /configuration is valid/);
});

test('config check refuses a keyring passphrase shorter than 16 characters, without printing it (exit 78)', () => {
  const result = runCli(['config', 'check'], { JWT_SECRET, DATA_DIR: dir, KEYRING_FILE: keyringFile('short.json', SHORT_PASSPHRASE) });
  assert.equal(result.status, 78, result.stdout);
  assert.match(result.stderr, /KEYRING_FILE: .*the passphrase of key "k1" is shorter than 16 characters/);
  assertNotShown(result, SHORT_PASSPHRASE);
});

test('config check reports a short JWT_SECRET_FILE and a bad keyring at once, showing neither secret (exit 78)', () => {
  const jwtFile = join(dir, 'short-jwt');
  writeFileSync(jwtFile, 'too-short-a-jwt-key');
  const result = runCli(['config', 'check'], { JWT_SECRET_FILE: jwtFile, DATA_DIR: dir, KEYRING_FILE: keyringFile('short-too.json', SHORT_PASSPHRASE) });
  assert.equal(result.status, 78, result.stdout);
  assert.ok(result.stderr.includes(`JWT_SECRET_FILE ${jwtFile} must hold at least 32 characters`), result.stderr);
  assert.match(result.stderr, /KEYRING_FILE: /);
  assertNotShown(result, 'too-short-a-jwt-key');
  assertNotShown(result, SHORT_PASSPHRASE);
});

test('config check passes good secret files and names the keyring, not its passphrases', () => {
  const jwtFile = join(dir, 'jwt');
  writeFileSync(jwtFile, JWT_SECRET);
  const keyring = keyringFile('good.json', GOOD_PASSPHRASE);
  const result = runCli(['config', 'check'], { JWT_SECRET_FILE: jwtFile, DATA_DIR: dir, KEYRING_FILE: keyring });
  assert.equal(result.status, 0, result.stderr);
  assert.ok(result.stdout.includes(`keyring: ${keyring}, primary key k1, keys k1`), result.stdout);
  assert.match(result.stdout, /configuration is valid/);
  assertNotShown(result, GOOD_PASSPHRASE);
  assertNotShown(result, JWT_SECRET);
});

for (const target of databaseTargets()) {
  test(`serve with a bad keyring stops before touching a fresh database: nothing migrated [${target}]`, async () => {
    const db = await createTestDatabase(target);
    try {
      const result = runCli(['serve'], {
        PORT: '0',
        DATABASE_URL: db.url,
        DATA_DIR: db.dataDir,
        JWT_SECRET,
        KEYRING_FILE: keyringFile(`serve-${target}.json`, SHORT_PASSPHRASE),
      });
      assert.equal(result.status, 78, result.stdout);
      assert.match(result.stderr, /the passphrase of key "k1" is shorter than 16 characters/);
      assertNotShown(result, SHORT_PASSPHRASE);
      if (target === 'sqlite') {
        assert.ok(!existsSync(join(db.dataDir, 'test.sqlite')), 'the database file was not even created');
      } else {
        const conn = await mysql.createConnection(db.url);
        try {
          const [tables] = await conn.query('SHOW TABLES');
          assert.deepEqual(tables, [], 'no table was created');
        } finally {
          await conn.end();
        }
      }
    } finally {
      await db.drop();
    }
  });
}

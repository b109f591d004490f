import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { bindingFor, EnvelopeError, keyIdOf } from '../../src/domain/crypto/envelope.js';
import { deriveKey, Keyring, KeyringError, parseKeyringFile, SCRYPT_PARAMS } from '../../src/domain/crypto/keyring.js';

const SOURCE = '/etc/billing-auth/keyring.json';
const PASSPHRASE = 'correct horse battery staple';
const aad = bindingFor('account', 'totp_secret', 7);

function parseFails(text: string, pattern: RegExp): void {
  assert.throws(
    () => parseKeyringFile(text, SOURCE),
    (error: unknown) => {
      assert.ok(error instanceof KeyringError, `expected KeyringError, got ${String(error)}`);
      assert.ok(error.message.startsWith(`Keyring file ${SOURCE}: `), error.message);
      assert.match(error.message, pattern);
      assert.ok(!error.message.includes(PASSPHRASE), `passphrase leaked: ${error.message}`);
      return true;
    },
  );
}

const file = (value: unknown): string => JSON.stringify(value);

test('parseKeyringFile accepts a valid file', () => {
  const parsed = parseKeyringFile(file({ primary: 'k2', keys: { k1: PASSPHRASE, k2: `${PASSPHRASE}!` } }), SOURCE);
  assert.deepEqual(parsed, { primary: 'k2', keys: { k1: PASSPHRASE, k2: `${PASSPHRASE}!` } });
});

test('parseKeyringFile: each problem gets a clear message naming the file, never the passphrase', () => {
  parseFails('', /is not valid JSON/);
  // V8's message for an unquoted value quotes the text around it, i.e. the passphrase: dropped.
  // Where V8 gives a position, it is passed on as line and column.
  parseFails(`{"primary": "k1",\n "keys": {"k1": ${PASSPHRASE}}}`, /is not valid JSON$/);
  parseFails(`{"primary": "k1"\n "keys": {"k1": "${PASSPHRASE}"}}`, /is not valid JSON \(error at line 2, column 2\)$/);
  parseFails('[]', /must be a JSON object with "primary" and "keys"/);
  parseFails('"k1"', /must be a JSON object/);
  parseFails('null', /must be a JSON object/);
  parseFails(file({ keys: { k1: PASSPHRASE } }), /"primary" is missing/);
  parseFails(file({ primary: 1, keys: { k1: PASSPHRASE } }), /"primary" must be a key id of 1-32 characters/);
  parseFails(file({ primary: 'k.1', keys: { k1: PASSPHRASE } }), /"primary" must be a key id/);
  parseFails(file({ primary: 'k1' }), /"keys" is missing/);
  parseFails(file({ primary: 'k1', keys: [PASSPHRASE] }), /"keys" must be an object/);
  parseFails(file({ primary: 'k1', keys: PASSPHRASE }), /"keys" must be an object/);
  parseFails(file({ primary: 'k1', keys: {} }), /"keys" is empty/);
  parseFails(file({ primary: 'k1', keys: { k1: PASSPHRASE, 'bad.id': PASSPHRASE } }), /key #2 in "keys" has an invalid id/);
  parseFails(file({ primary: 'k1', keys: { k1: PASSPHRASE, [PASSPHRASE]: 'x' } }), /key #2 in "keys" has an invalid id/);
  parseFails(file({ primary: 'k1', keys: { k1: 42 } }), /the passphrase of key "k1" must be a string/);
  parseFails(file({ primary: 'k1', keys: { k1: 'short' } }), /the passphrase of key "k1" is shorter than 16 characters/);
  parseFails(file({ primary: 'k1', keys: { k1: 'é'.repeat(15) } }), /shorter than 16 characters/); // counted in characters, not bytes
  parseFails(file({ primary: 'k3', keys: { k1: PASSPHRASE, k2: PASSPHRASE } }), /primary key "k3" is not among "keys"/);
  parseFails(file({ primary: 'k1', keys: { k1: PASSPHRASE }, salt: 'x', rotate: true }), /unknown member\(s\) "salt", "rotate"/);
});

test('SCRYPT_PARAMS follow the chosen cost', () => {
  assert.deepEqual({ ...SCRYPT_PARAMS }, { N: 2 ** 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 });
});

test('deriveKey: 32 bytes, deterministic per passphrase and salt, different for another salt or passphrase', async () => {
  const salt = Buffer.alloc(16, 1);
  const [a, b, otherSalt, otherPassphrase] = await Promise.all([
    deriveKey(PASSPHRASE, salt),
    deriveKey(PASSPHRASE, Buffer.from(salt)),
    deriveKey(PASSPHRASE, Buffer.alloc(16, 2)),
    deriveKey(`${PASSPHRASE}.`, salt),
  ]);
  assert.equal(a.length, 32);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, otherSalt);
  assert.notDeepEqual(a, otherPassphrase);
  await assert.rejects(deriveKey(PASSPHRASE, Buffer.alloc(8)), /salt must be at least 16 bytes/);
});

test('Keyring constructor refuses a missing primary, bad ids and keys that are not 32 bytes', () => {
  assert.throws(
    () => new Keyring('k2', new Map([['k1', randomBytes(32)]])),
    (e: unknown) => e instanceof KeyringError && /primary key "k2"/.test(e.message),
  );
  assert.throws(() => new Keyring('k1', new Map([['k1', randomBytes(31)]])), /key "k1" must be 32 bytes, got 31/);
  assert.throws(
    () =>
      new Keyring(
        'k1',
        new Map([
          ['k1', randomBytes(32)],
          ['a.b', randomBytes(32)],
        ]),
      ),
    /key id is invalid/,
  );
});

test('Keyring encrypts with the primary key and reports it', () => {
  const ring = new Keyring(
    'k2',
    new Map([
      ['k1', randomBytes(32)],
      ['k2', randomBytes(32)],
    ]),
  );
  assert.equal(ring.primaryId, 'k2');
  assert.deepEqual(ring.keyIds, ['k1', 'k2']);
  const stored = ring.encrypt('JBSWY3DPEHPK3PXP', aad);
  assert.equal(keyIdOf(stored), 'k2');
  assert.equal(ring.usesPrimary(stored), true);
  assert.equal(ring.decrypt(stored, aad), 'JBSWY3DPEHPK3PXP');
  assert.throws(
    () => ring.decrypt(stored, bindingFor('account', 'totp_secret', 8)),
    (e: unknown) => e instanceof EnvelopeError && e.reason === 'auth_failed',
  );
  assert.throws(
    () => ring.usesPrimary('junk'),
    (e: unknown) => e instanceof EnvelopeError && e.reason === 'malformed',
  );
});

test('Keyring keeps its own copy of the keys', () => {
  const key = randomBytes(32);
  const map = new Map([['k1', key]]);
  const ring = new Keyring('k1', map);
  const stored = ring.encrypt('secret', aad);
  key.fill(0);
  map.delete('k1');
  assert.equal(ring.decrypt(stored, aad), 'secret');
});

test('rotation: values sealed under the old key still open with a 2-key ring; new values use the new primary', async () => {
  const salt = randomBytes(16);
  const file = parseKeyringFile(JSON.stringify({ primary: 'old', keys: { old: PASSPHRASE } }), SOURCE);
  const oldKey = await deriveKey(file.keys.old ?? '', salt);
  const before = new Keyring(file.primary, new Map([['old', oldKey]]));
  const sealedBefore = before.encrypt('hunter22', aad);

  // Operator adds a new key and makes it primary, keeping the old one.
  const rotated = new Keyring(
    'new',
    new Map([
      ['old', oldKey],
      ['new', randomBytes(32)],
    ]),
  );
  assert.equal(rotated.usesPrimary(sealedBefore), false);
  assert.equal(rotated.decrypt(sealedBefore, aad), 'hunter22');

  const resealed = rotated.encrypt(rotated.decrypt(sealedBefore, aad), aad);
  assert.equal(rotated.usesPrimary(resealed), true);
  assert.equal(rotated.decrypt(resealed, aad), 'hunter22');

  // The old ring cannot read the new value and says which key it lacks.
  assert.throws(
    () => before.decrypt(resealed, aad),
    (e: unknown) => e instanceof EnvelopeError && e.reason === 'unknown_key' && /"new"/.test(e.message),
  );
});

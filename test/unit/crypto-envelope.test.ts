import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { bindingFor, ENVELOPE_VERSION, EnvelopeError, keyIdOf, openValue, sealValue } from '../../src/domain/crypto/envelope.js';

const key = randomBytes(32);
const otherKey = randomBytes(32);
const keys = new Map([['k1', key]]);
const aad = bindingFor('customer', 'password', 42);
const secret = 'Tr0ub4dor&3';

function throwsEnvelope(fn: () => unknown, reason: EnvelopeError['reason']): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof EnvelopeError, `expected EnvelopeError, got ${String(error)}`);
    assert.equal(error.reason, reason);
    assert.ok(!error.message.includes(secret), 'message must not carry the plaintext');
    return true;
  });
}

/** Flips one bit of a decoded part and re-encodes it canonically, so the change is tampering, not bad encoding. */
function flip(stored: string, partIndex: 2 | 3, byteIndex: number): string {
  const parts = stored.split('.');
  const bytes = Buffer.from(parts[partIndex] ?? '', 'base64url');
  const at = byteIndex < 0 ? bytes.length + byteIndex : byteIndex;
  bytes[at] = (bytes[at] ?? 0) ^ 0x01;
  parts[partIndex] = bytes.toString('base64url');
  return parts.join('.');
}

test('bindingFor names table, column and row', () => {
  assert.equal(bindingFor('customer', 'password', 42), 'customer/password/42');
  assert.equal(bindingFor('account', 'totp_secret', 'abc'), 'account/totp_secret/abc');
});

test('seal then open round-trips, including empty and non-ASCII values', () => {
  for (const plaintext of [secret, '', 'пароль-é-😀', 'x'.repeat(1000)]) {
    assert.equal(openValue(sealValue(plaintext, 'k1', key, aad), keys, aad), plaintext);
  }
});

test('stored form: v1.<key id>.<12-byte nonce>.<ciphertext+16-byte tag>, never the plaintext', () => {
  const stored = sealValue(secret, 'k1', key, aad);
  const parts = stored.split('.');
  assert.equal(parts.length, 4);
  assert.equal(parts[0], ENVELOPE_VERSION);
  assert.equal(parts[1], 'k1');
  assert.equal(Buffer.from(parts[2] ?? '', 'base64url').length, 12);
  assert.equal(Buffer.from(parts[3] ?? '', 'base64url').length, Buffer.byteLength(secret) + 16);
  assert.ok(!stored.includes(secret));
  assert.ok(!stored.includes(Buffer.from(secret).toString('base64url')));
  assert.equal(keyIdOf(stored), 'k1');
});

test('two seals of the same plaintext differ (fresh nonce each time)', () => {
  const a = sealValue(secret, 'k1', key, aad);
  const b = sealValue(secret, 'k1', key, aad);
  assert.notEqual(a, b);
  assert.notEqual(a.split('.')[2], b.split('.')[2]);
});

test('wrong binding fails: another column, another row, another table', () => {
  const stored = sealValue(secret, 'k1', key, aad);
  throwsEnvelope(() => openValue(stored, keys, bindingFor('customer', 'password', 43)), 'auth_failed');
  throwsEnvelope(() => openValue(stored, keys, bindingFor('customer', 'totp_secret', 42)), 'auth_failed');
  throwsEnvelope(() => openValue(stored, keys, bindingFor('account', 'password', 42)), 'auth_failed');
  throwsEnvelope(() => openValue(stored, keys, ''), 'auth_failed');
});

test('tampering with nonce, ciphertext or tag fails authentication', () => {
  const stored = sealValue(secret, 'k1', key, aad);
  throwsEnvelope(() => openValue(flip(stored, 2, 0), keys, aad), 'auth_failed');
  throwsEnvelope(() => openValue(flip(stored, 3, 0), keys, aad), 'auth_failed');
  throwsEnvelope(() => openValue(flip(stored, 3, -1), keys, aad), 'auth_failed');
});

test('the wrong key under the right id fails authentication', () => {
  const stored = sealValue(secret, 'k1', key, aad);
  throwsEnvelope(() => openValue(stored, new Map([['k1', otherKey]]), aad), 'auth_failed');
});

test('relabelling a value with another key id fails even if that id holds the same key', () => {
  const stored = sealValue(secret, 'k1', key, aad);
  const relabelled = stored.replace('.k1.', '.k2.');
  throwsEnvelope(() => openValue(relabelled, new Map([['k2', key]]), aad), 'auth_failed');
});

test('a key id missing from the ring is unknown_key and named in the message', () => {
  const stored = sealValue(secret, 'old-2024', key, aad);
  throwsEnvelope(() => openValue(stored, keys, aad), 'unknown_key');
  assert.throws(() => openValue(stored, keys, aad), /old-2024/);
});

test('malformed strings are refused before any decryption', () => {
  const stored = sealValue(secret, 'k1', key, aad);
  const [, , nonce = '', body = ''] = stored.split('.');
  const malformed = [
    '',
    secret,
    'v1.k1',
    `v1.k1.${nonce}`,
    `v2.k1.${nonce}.${body}`,
    `${stored}.extra`,
    `v1..${nonce}.${body}`,
    `v1.k 1.${nonce}.${body}`,
    `v1.${'k'.repeat(33)}.${nonce}.${body}`,
    `v1.k1.${nonce.slice(0, -2)}.${body}`, // short nonce
    `v1.k1.${nonce}.${Buffer.alloc(15).toString('base64url')}`, // shorter than a tag
    `v1.k1.${nonce}.`,
    `v1.k1.${nonce}.${body}=`, // padding is not base64url
    `v1.k1.${nonce}.${body.slice(0, 4)}+/${body.slice(6)}`, // standard base64 alphabet
  ];
  for (const value of malformed) {
    throwsEnvelope(() => openValue(value, keys, aad), 'malformed');
    throwsEnvelope(() => keyIdOf(value), 'malformed');
  }
});

test('non-canonical base64url (stray trailing bits) is malformed, so each stored string has one meaning', () => {
  const stored = sealValue('abc', 'k1', key, aad); // 3 + 16 = 19 bytes: last char carries unused bits
  const parts = stored.split('.');
  const body = parts[3] ?? '';
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const last = alphabet.indexOf(body.slice(-1));
  parts[3] = body.slice(0, -1) + alphabet[last ^ 0x01];
  assert.deepEqual(Buffer.from(parts[3], 'base64url'), Buffer.from(body, 'base64url'));
  throwsEnvelope(() => openValue(parts.join('.'), keys, aad), 'malformed');
});

test('sealValue refuses bad key ids and keys that are not 32 bytes', () => {
  for (const id of ['', 'a.b', 'k 1', 'k/1', 'x'.repeat(33), 'é']) {
    assert.throws(() => sealValue(secret, id, key, aad), /key id/, id);
  }
  assert.throws(() => sealValue(secret, 'k1', randomBytes(16), aad), /32 bytes/);
  assert.throws(() => sealValue(secret, 'k1', randomBytes(33), aad), /32 bytes/);
  assert.equal(keyIdOf(sealValue(secret, 'A-z_09'.padEnd(32, 'x'), key, aad)), 'A-z_09'.padEnd(32, 'x'));
});

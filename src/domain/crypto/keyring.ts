import { scrypt, type BinaryLike, type ScryptOptions } from 'node:crypto';
import { promisify } from 'node:util';
import { keyIdOf, openValue, sealValue } from './envelope.js';

/**
 * The keys that seal secrets at rest. Operators keep a keyring file:
 *
 *   { "primary": "2025a", "keys": { "2025a": "<passphrase>", "2024b": "<passphrase>" } }
 *
 * New values are sealed with the primary key; every value names its key, so
 * after a rotation (new primary added, old key kept) old values still open and
 * can be re-sealed lazily. A key may only be removed once no value uses it.
 *
 * Passphrases are stretched with scrypt (RFC 7914) into 256-bit AES keys.
 * Errors name the file and key id, never a passphrase.
 */
export class KeyringError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KeyringError';
  }
}

export interface KeyringFile {
  primary: string;
  keys: Record<string, string>;
}

const KEY_ID_PATTERN = /^[A-Za-z0-9_-]{1,32}$/;
const MIN_PASSPHRASE_LENGTH = 16;
const KEY_BYTES = 32;
const MIN_SALT_BYTES = 16;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * JSON.parse's messages can quote the text around the error (V8: `Unexpected
 * token 's', ..."k1": secretpass"...`), which here is a passphrase. Only the
 * position, when V8 gives one, is kept, as line and column.
 */
export function describeJsonError(error: unknown, text: string): string {
  const position = error instanceof Error ? /position (\d+)/.exec(error.message)?.[1] : undefined;
  if (position === undefined) return 'is not valid JSON';
  const before = text.slice(0, Number(position));
  const line = before.split('\n').length;
  const column = before.length - before.lastIndexOf('\n');
  return `is not valid JSON (error at line ${line}, column ${column})`;
}

export function parseKeyringFile(text: string, source: string): KeyringFile {
  const fail = (problem: string): never => {
    throw new KeyringError(`Keyring file ${source}: ${problem}`);
  };
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    return fail(describeJsonError(error, text));
  }
  if (!isPlainObject(data)) return fail('must be a JSON object with "primary" and "keys"');
  const unknown = Object.keys(data).filter((member) => member !== 'primary' && member !== 'keys');
  if (unknown.length > 0) return fail(`unknown member(s) ${unknown.map((m) => JSON.stringify(m)).join(', ')}; only "primary" and "keys" are allowed`);

  const { primary, keys } = data;
  if (primary === undefined) return fail('"primary" is missing; it must name the key id that encrypts new values');
  if (typeof primary !== 'string' || !KEY_ID_PATTERN.test(primary)) {
    return fail('"primary" must be a key id of 1-32 characters from A-Z, a-z, 0-9, "_" and "-"');
  }
  if (keys === undefined) return fail('"keys" is missing; it must map key ids to passphrases');
  if (!isPlainObject(keys)) return fail('"keys" must be an object mapping key ids to passphrases');
  const entries = Object.entries(keys);
  if (entries.length === 0) return fail('"keys" is empty; at least the primary key is needed');

  for (const [index, [id, passphrase]] of entries.entries()) {
    // An id is only echoed once it is known to be harmless; a bad one may be a
    // passphrase pasted into the wrong place, so it is named by position.
    if (!KEY_ID_PATTERN.test(id)) return fail(`key #${index + 1} in "keys" has an invalid id; ids are 1-32 characters from A-Z, a-z, 0-9, "_" and "-"`);
    if (typeof passphrase !== 'string') return fail(`the passphrase of key "${id}" must be a string`);
    if ([...passphrase].length < MIN_PASSPHRASE_LENGTH) {
      return fail(`the passphrase of key "${id}" is shorter than ${MIN_PASSPHRASE_LENGTH} characters`);
    }
  }
  if (!Object.hasOwn(keys, primary)) return fail(`primary key "${primary}" is not among "keys"`);

  // fromEntries defines own properties, so an id such as "__proto__" stays data.
  return { primary, keys: Object.fromEntries(entries) as Record<string, string> };
}

/**
 * scrypt cost (RFC 7914 2): N = 2^15, r = 8, p = 1 needs 128 * N * r = 32 MiB
 * and ~100 ms per derivation, done once per key at start-up. maxmem must sit
 * above 32 MiB because Node's default is exactly that and it counts overhead.
 */
export const SCRYPT_PARAMS: { N: number; r: number; p: number; maxmem: number } = Object.freeze({ N: 2 ** 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 });

const scryptAsync = promisify(scrypt) as (password: BinaryLike, salt: BinaryLike, keylen: number, options: ScryptOptions) => Promise<Buffer>;

/**
 * Passphrase -> 32-byte AES key. The passphrase is NFKC-normalised (as NIST SP
 * 800-63B 5.1.1.2 advises for secrets typed by people) so the same passphrase
 * typed on another system derives the same key. The salt must be at least 128
 * bits (NIST SP 800-132 5.1).
 */
export async function deriveKey(passphrase: string, salt: Buffer): Promise<Buffer> {
  if (salt.length < MIN_SALT_BYTES) throw new KeyringError(`Key derivation salt must be at least ${MIN_SALT_BYTES} bytes, got ${salt.length}`);
  const { N, r, p, maxmem } = SCRYPT_PARAMS;
  return scryptAsync(passphrase.normalize('NFKC'), salt, KEY_BYTES, { N, r, p, maxmem });
}

export class Keyring {
  readonly #primaryId: string;
  readonly #keys: ReadonlyMap<string, Buffer>;

  constructor(primaryId: string, keys: ReadonlyMap<string, Buffer>) {
    for (const [id, key] of keys) {
      if (!KEY_ID_PATTERN.test(id)) throw new KeyringError('Keyring: a key id is invalid; ids are 1-32 characters from A-Z, a-z, 0-9, "_" and "-"');
      if (key.length !== KEY_BYTES) throw new KeyringError(`Keyring: key "${id}" must be ${KEY_BYTES} bytes, got ${key.length}`);
    }
    if (!keys.has(primaryId)) throw new KeyringError(`Keyring: primary key "${primaryId}" is not among the keys`);
    this.#primaryId = primaryId;
    // Own copies: later changes to the caller's map or buffers cannot swap keys under us.
    this.#keys = new Map([...keys].map(([id, key]) => [id, Buffer.from(key)]));
  }

  get primaryId(): string {
    return this.#primaryId;
  }

  get keyIds(): string[] {
    return [...this.#keys.keys()];
  }

  /** Seals with the primary key. */
  encrypt(plaintext: string, aad: string): string {
    const key = this.#keys.get(this.#primaryId);
    if (key === undefined) throw new KeyringError(`Keyring: primary key "${this.#primaryId}" is missing`);
    return sealValue(plaintext, this.#primaryId, key, aad);
  }

  /** Opens with whichever key the value names; throws EnvelopeError otherwise. */
  decrypt(stored: string, aad: string): string {
    return openValue(stored, this.#keys, aad);
  }

  /** False for values sealed under an older key: candidates for re-sealing. Throws EnvelopeError('malformed') for junk. */
  usesPrimary(stored: string): boolean {
    return keyIdOf(stored) === this.#primaryId;
  }
}

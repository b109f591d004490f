import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * AES-256-GCM envelope for secrets stored in the database (web passwords that
 * must stay recoverable, TOTP shared secrets). One value is one string:
 *
 *   v1.<key id>.<nonce, base64url>.<ciphertext || tag, base64url>
 *
 * Invariants (NIST SP 800-38D):
 * - 96-bit IV from a CSPRNG, fresh for every seal (8.2.2 RBG-based
 *   construction). With random IVs one key may seal at most 2^32 values
 *   (8.3); rotate the primary key long before that.
 * - Full 128-bit tag, checked at exactly that length on open (5.2.1.2,
 *   Appendix C: shorter tags weaken forgery resistance).
 * - Additional authenticated data binds the value to its place (table,
 *   column, row) and to its own header (version, key id), so a ciphertext
 *   copied to another row or relabelled with another key id fails to open
 *   instead of decrypting as someone else's secret.
 * - Nothing is returned from a failed open: GCM's decrypted bytes are only
 *   released after the tag verifies. Error messages never carry plaintext,
 *   key material or ciphertext.
 */
export class EnvelopeError extends Error {
  constructor(
    readonly reason: 'malformed' | 'unknown_key' | 'auth_failed',
    message: string,
  ) {
    super(message);
    this.name = 'EnvelopeError';
  }
}

export const ENVELOPE_VERSION = 'v1';

const ALGORITHM = 'aes-256-gcm';
const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const KEY_ID_PATTERN = /^[A-Za-z0-9_-]{1,32}$/;
const BASE64URL_PATTERN = /^[A-Za-z0-9_-]+$/;

/** AAD binding a value to its place, so a value copied to another row/column fails to decrypt. */
export function bindingFor(table: string, column: string, rowId: string | number): string {
  return `${table}/${column}/${rowId}`;
}

/**
 * The AAD actually given to GCM: the envelope header plus the caller's binding.
 * The header is authenticated so the version and key id cannot be swapped
 * without the tag failing, even if two ids were ever configured with the same key.
 */
function fullAad(keyId: string, aad: string): Buffer {
  return Buffer.from(`${ENVELOPE_VERSION}.${keyId}.${aad}`, 'utf8');
}

function assertKey(keyId: string, key: Buffer): void {
  if (!KEY_ID_PATTERN.test(keyId)) throw new TypeError('Envelope key id must match ^[A-Za-z0-9_-]{1,32}$');
  if (key.length !== KEY_BYTES) throw new TypeError(`Envelope key "${keyId}" must be ${KEY_BYTES} bytes, got ${key.length}`);
}

export function sealValue(plaintext: string, keyId: string, key: Buffer, aad: string): string {
  assertKey(keyId, key);
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv(ALGORITHM, key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(fullAad(keyId, aad));
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
  return [ENVELOPE_VERSION, keyId, nonce.toString('base64url'), ciphertext.toString('base64url')].join('.');
}

interface ParsedEnvelope {
  keyId: string;
  nonce: Buffer;
  ciphertext: Buffer;
  tag: Buffer;
}

/**
 * Strict base64url: Node's decoder silently skips junk and ignores trailing
 * bits, so only the canonical (re-encodes identically) form is accepted. That
 * way every stored string has exactly one meaning.
 */
function decodeBase64url(part: string): Buffer | undefined {
  if (!BASE64URL_PATTERN.test(part)) return undefined;
  const bytes = Buffer.from(part, 'base64url');
  return bytes.toString('base64url') === part ? bytes : undefined;
}

function parse(stored: string): ParsedEnvelope {
  const parts = stored.split('.');
  if (parts.length !== 4 || parts[0] !== ENVELOPE_VERSION) {
    throw new EnvelopeError('malformed', `Encrypted value is not a ${ENVELOPE_VERSION} envelope`);
  }
  const [, keyId = '', noncePart = '', bodyPart = ''] = parts;
  if (!KEY_ID_PATTERN.test(keyId)) throw new EnvelopeError('malformed', 'Encrypted value has an invalid key id');
  const nonce = decodeBase64url(noncePart);
  if (nonce?.length !== NONCE_BYTES) throw new EnvelopeError('malformed', `Encrypted value's nonce is not ${NONCE_BYTES} bytes of base64url`);
  const body = decodeBase64url(bodyPart);
  if (body === undefined || body.length < TAG_BYTES) {
    throw new EnvelopeError('malformed', `Encrypted value's ciphertext is not base64url of at least ${TAG_BYTES} bytes`);
  }
  return { keyId, nonce, ciphertext: body.subarray(0, body.length - TAG_BYTES), tag: body.subarray(body.length - TAG_BYTES) };
}

export function keyIdOf(stored: string): string {
  return parse(stored).keyId;
}

export function openValue(stored: string, keys: ReadonlyMap<string, Buffer>, aad: string): string {
  const { keyId, nonce, ciphertext, tag } = parse(stored);
  const key = keys.get(keyId);
  // The id was checked against KEY_ID_PATTERN, so echoing it cannot inject
  // anything into logs; it tells operators which retired key is still needed.
  if (key === undefined) throw new EnvelopeError('unknown_key', `Encrypted value names key "${keyId}", which is not in the keyring`);
  assertKey(keyId, key);
  const decipher = createDecipheriv(ALGORITHM, key, nonce, { authTagLength: TAG_BYTES });
  decipher.setAAD(fullAad(keyId, aad));
  decipher.setAuthTag(tag);
  let plaintext: Buffer;
  try {
    plaintext = Buffer.concat([decipher.update(ciphertext), decipher.final()]);
  } catch {
    // One reason for wrong key, wrong binding and tampering alike: GCM cannot
    // tell them apart, and guessing would only help an attacker probe.
    throw new EnvelopeError('auth_failed', `Encrypted value with key "${keyId}" failed authentication (wrong key, wrong binding or tampered)`);
  }
  return plaintext.toString('utf8');
}

import { createHash, randomInt } from 'node:crypto';

/**
 * Recovery codes: single-use look-up secrets (NIST SP 800-63B 5.1.2) that let
 * a user who lost their authenticator app sign in once and re-enroll.
 *
 * Security invariants:
 *  - each code is drawn uniformly from the CSPRNG with 120 bits of entropy
 *    (24 characters from a 32-character alphabet). SP 800-63B 5.1.2.1 asks
 *    for only 20 bits, but 5.1.2.2 allows storing a look-up secret with a
 *    plain approved hash only from 112 bits up; below that it requires a
 *    salted, costly password hash. 120 bits keeps `hashRecoveryCode` a fast,
 *    indexable SHA-256 and still resists offline attack on a leaked table;
 *  - only hashes are stored (5.1.2.2), and the caller deletes a code's hash
 *    when it is used, so each code works once ("SHALL be used successfully
 *    only once").
 */
export const RECOVERY_CODE_COUNT = 10;

/**
 * Crockford's base32 alphabet in lower case: the digits and all letters but
 * i, l, o and u, so no two characters are easily confused when read off paper
 * (0/o, 1/l/i). 32 symbols = exactly 5 bits per character.
 */
const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';
/** 6 groups of 4: 24 characters x 5 bits = 120 bits, at least the 112 bits 5.1.2.2 needs for a plain hash. */
const GROUP_LENGTH = 4;
const GROUPS = 6;
const CODE_LENGTH = GROUP_LENGTH * GROUPS;
const NORMALIZED_PATTERN = new RegExp(`^[${ALPHABET}]{${CODE_LENGTH}}$`);

/** `count` distinct codes like 'k3v9-q7hx-2m8a-j4nd-w6tr-e5pz'. */
export function generateRecoveryCodes(count: number = RECOVERY_CODE_COUNT): string[] {
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`count must be a positive integer, got ${count}`);
  // A Set guarantees distinct codes; with 2^120 possibilities a repeat is
  // practically impossible, but a duplicate would silently mean fewer codes.
  const codes = new Set<string>();
  while (codes.size < count) codes.add(randomCode());
  return [...codes];
}

/**
 * Lets users type codes loosely: surrounding blanks, upper case, spaces and
 * dashes anywhere are ignored. Crockford's decoding rules also map the letters
 * left out of the alphabet to the characters they are confused with
 * (o → 0, i/l → 1), so a code read aloud or off a printout still matches.
 */
export function normalizeRecoveryCode(input: string): string {
  return input
    .trim()
    .toLowerCase()
    .replace(/[\s-]+/g, '')
    .replace(/o/g, '0')
    .replace(/[il]/g, '1');
}

/**
 * SHA-256 hex of the normalized code. A fast, unsalted hash is adequate here
 * because recovery codes are high-entropy random values, not user-chosen
 * secrets: NIST SP 800-63B 5.1.2.2 (look-up secret verifiers) requires that
 * look-up secrets with at least 112 bits of entropy "SHALL be hashed with an
 * approved one-way function", and ours have 120. Guessing a preimage of 2^120
 * is out of reach, so a salt or a costly KDF would add nothing but latency;
 * leaving out the salt lets the caller look a code up by its hash.
 */
export function hashRecoveryCode(code: string): string {
  return createHash('sha256').update(normalizeRecoveryCode(code), 'utf8').digest('hex');
}

/** Whether `input`, once normalized, has the shape of a recovery code (as opposed to a 6-digit TOTP code). */
export function looksLikeRecoveryCode(input: string): boolean {
  return NORMALIZED_PATTERN.test(normalizeRecoveryCode(input));
}

function randomCode(): string {
  let code = '';
  for (let i = 0; i < CODE_LENGTH; i++) {
    if (i > 0 && i % GROUP_LENGTH === 0) code += '-';
    // randomInt is uniform (rejection sampling), so every character carries a full 5 bits.
    code += ALPHABET.charAt(randomInt(ALPHABET.length));
  }
  return code;
}

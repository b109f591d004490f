import { randomFillSync } from 'node:crypto';

/** Enough for 128 tokens of 32 bytes per refill. */
const POOL_BYTES = 4096;

const pool = Buffer.alloc(POOL_BYTES);
let offset = POOL_BYTES;

/**
 * `bytes` bytes from the operating system's CSPRNG, base64url-encoded: the
 * secret part of refresh tokens and mfa tokens.
 *
 * The bytes are fetched in blocks (as Node does for `randomUUID`): one call
 * to the CSPRNG cost more than the rest of building a token, on every login
 * and refresh. Each byte is handed out once and zeroed as it is, so what
 * stays in memory is only tokens not yet issued.
 */
export function randomToken(bytes: number): string {
  if (bytes > POOL_BYTES) throw new RangeError(`at most ${POOL_BYTES} bytes`);
  if (offset + bytes > POOL_BYTES) {
    randomFillSync(pool);
    offset = 0;
  }
  const token = pool.toString('base64url', offset, offset + bytes);
  pool.fill(0, offset, offset + bytes);
  offset += bytes;
  return token;
}

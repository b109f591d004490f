import { createHash } from 'node:crypto';

/**
 * SHA-256 hex of a high-entropy bearer secret (refresh token, mfa token):
 * what is stored instead of the secret. A fast hash suffices because the
 * inputs are 256-bit random values, not passwords.
 */
export const sha256 = (value: string): string => createHash('sha256').update(value).digest('hex');

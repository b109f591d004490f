import bcrypt from 'bcrypt';

/**
 * bcrypt hashing of web passwords (NIST SP 800-63B 5.1.1.2: salted, costly
 * one-way function). The cost comes from `BCRYPT_COST`; tests lower it through
 * config, never through a different code path.
 *
 * bcrypt reads at most 72 bytes; the policy caps passwords at 32 characters,
 * so nothing a user types is silently ignored.
 */
export interface PasswordHasher {
  hash(password: string): Promise<string>;
  verify(password: string, hash: string): Promise<boolean>;
  /**
   * Spends the same time as `verify` against a real hash and returns false:
   * used for unknown logins so timing does not reveal whether a login exists.
   */
  verifyNothing(password: string): Promise<false>;
}

export async function createPasswordHasher(cost: number): Promise<PasswordHasher> {
  const dummyHash = await bcrypt.hash(`dummy-${Math.random()}`, cost);
  return {
    hash: (password) => bcrypt.hash(password, cost),
    verify: (password, hash) => bcrypt.compare(password, hash),
    async verifyNothing(password) {
      await bcrypt.compare(password, dummyHash);
      return false;
    },
  };
}

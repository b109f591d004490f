import type { FastifyInstance } from 'fastify';
import type { Knex } from 'knex';
import { bindingFor } from '../domain/crypto/envelope.js';
import { checkPassword, MAX_PASSWORD_LENGTH, parseComplexityRules, type ComplexityRules, type PasswordPolicy } from '../domain/passwords/policy.js';
import type { Row } from '../repositories/entities.js';
import { Fault } from '../rpc/faults.js';
import type { EntityDescriptor } from './descriptors.js';

/**
 * Password storage rules (seed 001, done without plain text anywhere):
 * - every web password: bcrypt hash, used to verify logins;
 * - admin users: the hash only, never readable;
 * - customers, individuals, accounts, representatives, vendors: also an
 *   AES-256-GCM copy while SECURITY_ENCRYPT_PASSWORDS is on, readable with
 *   `passwords.read`;
 * - the account service password (h323_password): always encrypted.
 * Every encrypted value is bound to its table, column and row.
 */
export const hasReadableCopy = (d: EntityDescriptor): boolean => d.realm !== undefined && d.realm !== 'admin';

/** The customer class whose overrides apply to a principal, if any. */
async function classIdFor(app: FastifyInstance, d: EntityDescriptor, values: Row, trx?: Knex.Transaction): Promise<number | undefined> {
  if (d.name === 'customer') return typeof values.i_customer_class === 'number' ? values.i_customer_class : undefined;
  if (d.name !== 'account' && d.name !== 'customer_individual') return undefined;
  if (typeof values.i_customer !== 'number') return undefined;
  const customer = await app.repos.entities.customer.findById(values.i_customer, trx);
  return typeof customer?.i_customer_class === 'number' ? customer.i_customer_class : undefined;
}

/** The global policy, with the overrides of the principal's customer class (customers, individuals, accounts). */
export async function policyFor(app: FastifyInstance, d: EntityDescriptor | undefined, values: Row = {}, trx?: Knex.Transaction): Promise<PasswordPolicy> {
  const policy: PasswordPolicy = {
    min_length: app.config.WEB_PASSWORD_MIN_LENGTH,
    max_length: MAX_PASSWORD_LENGTH,
    rules: parseComplexityRules(app.config.WEB_PASSWORD_COMPLEXITY_RULES),
  };
  const classId = d ? await classIdFor(app, d, values, trx) : undefined;
  if (classId === undefined) return policy;
  const cls = await app.repos.entities.customer_class.findById(classId, trx);
  if (typeof cls?.password_min_length === 'number') policy.min_length = cls.password_min_length;
  if (typeof cls?.password_complexity_rules === 'string') {
    policy.rules = { ...policy.rules, ...(JSON.parse(cls.password_complexity_rules) as Partial<ComplexityRules>) };
  }
  return policy;
}

/** Refuses a password with every rule it breaks (`data.violations`), before any hashing. */
export function assertAcceptable(policy: PasswordPolicy, password: string, current?: string): void {
  const violations = checkPassword(password, policy);
  if (current !== undefined && password === current) violations.push('same_as_current');
  if (violations.length > 0) {
    throw new Fault('Server.Password.policy_violation', `The password is refused: ${violations.join(', ')}`, { violations });
  }
}

/** Hash columns for a new web password; the expiry clock restarts now. */
export async function webPasswordColumns(app: FastifyInstance, password: string, now: number, mustChange: boolean): Promise<Row> {
  return { password_hash: await app.passwords.hash(password), password_set_at: now, password_must_change: mustChange, password_hash_imported: false };
}

/**
 * Columns for a bcrypt hash imported from another system (its format and cost
 * range are checked by the schema, common.json `bcrypt_hash`). `$2y$` is
 * PHP's name for `$2b$` (the same algorithm); the bcrypt library knows only
 * the latter. No readable copy can be made from a hash: any old one is
 * dropped, and the copy is taken at the first login (adoptImportedPassword).
 */
export function importedHashColumns(d: EntityDescriptor, hash: string, now: number, mustChange: boolean): Row {
  return {
    password_hash: hash.startsWith('$2y$') ? `$2b$${hash.slice(4)}` : hash,
    password_set_at: now,
    password_must_change: mustChange,
    password_hash_imported: true,
    ...(hasReadableCopy(d) ? { password_enc: null } : {}),
  };
}

/**
 * At the first login with the right password, an imported hash gives way to
 * one of the service's own (BCRYPT_COST) and the readable copy is taken where
 * the entity keeps one and SECURITY_ENCRYPT_PASSWORDS is on. Only while the
 * stored hash is still the one just checked: a password set meanwhile stays.
 * Returns the row as it now is (the login goes on with the hash it holds).
 */
export async function adoptImportedPassword(app: FastifyInstance, d: EntityDescriptor, row: Row, password: string): Promise<Row> {
  if (!row.password_hash_imported) return row;
  const id = Number(row[d.idField]);
  const adopted = { password_hash: await app.passwords.hash(password), password_hash_imported: false, ...encryptedColumns(app, d, id, { password }) };
  const replaced = await app.repos.entities[d.name].replacePasswordHash(id, String(row.password_hash), adopted);
  return replaced > 0 ? { ...row, ...adopted } : row;
}

/** Encrypted columns for a row whose id is known (the id is part of the binding). */
export function encryptedColumns(app: FastifyInstance, d: EntityDescriptor, id: number, values: { password?: unknown; h323_password?: unknown }): Row {
  const out: Row = {};
  const ring = app.keyring.current();
  if (typeof values.password === 'string' && hasReadableCopy(d)) {
    out.password_enc = app.config.SECURITY_ENCRYPT_PASSWORDS ? ring.encrypt(values.password, bindingFor(d.table, 'password_enc', id)) : null;
  }
  if (typeof values.h323_password === 'string' && d.name === 'account') {
    out.h323_password_enc = ring.encrypt(values.h323_password, bindingFor(d.table, 'h323_password_enc', id));
  }
  return out;
}

/**
 * Decrypts one stored value. A value that does not decrypt is a fault of the
 * data or the keyring, never an empty password: it fails loudly, naming the row.
 */
export function decryptColumn(app: FastifyInstance, d: EntityDescriptor, row: Row, column: 'password_enc' | 'h323_password_enc'): string | null {
  const stored = row[column];
  if (typeof stored !== 'string') return null;
  const id = Number(row[d.idField]);
  try {
    return app.keyring.current().decrypt(stored, bindingFor(d.table, column, id));
  } catch (err) {
    throw new Error(`cannot decrypt ${d.table}.${column} of ${d.idField} ${id}: ${(err as Error).message}`, { cause: err });
  }
}

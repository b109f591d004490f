import type { Knex } from 'knex';
import type { FastifyInstance } from 'fastify';
import { referrersOf, type EntityDescriptor } from '../../entities/descriptors.js';
import { entityModel, toInfo } from '../../entities/model.js';
import { effective2fa } from '../../entities/two-factor.js';
import type { Row } from '../../repositories/entities.js';
import { keyLength, LOGIN_KEY_MAX, loginKey, newLoginProblem } from '../../domain/login.js';
import { PERMISSIONS } from '../../domain/permissions.js';
import { Fault, type FaultCode } from '../../rpc/faults.js';
import type { AuthenticatedSession } from '../../plugins/sessions.js';
import type { SessionCallContext } from '../../rpc/registry.js';
import { actorOf } from '../shared/audit.js';
import { assertAcceptable, importedHashColumns, policyFor, webPasswordColumns } from '../../entities/passwords.js';

export type Params = Record<string, unknown>;

/**
 * The faults a write of this kind of object can answer besides access and
 * its own id, and no others: every declared fault is one a caller can meet
 * (and a test does).
 */
export function writeFaults(d: EntityDescriptor, op: 'add' | 'update' | 'delete'): FaultCode[] {
  const codes: FaultCode[] = [];
  if (op === 'delete') {
    if (referrersOf(d.name).length > 0) codes.push('Server.Conflict.has_children');
  } else {
    codes.push('Server.Conflict.login_taken');
    // An unknown reference (update answers NotFound for its own id anyway).
    if (op === 'add' && d.references.length > 0) codes.push('Server.NotFound');
    if (d.references.some((r) => r.entity === d.name || r.check)) codes.push('Server.Validation.invalid_reference');
    // Principals have passwords, which must meet the policy.
    if (d.realm) codes.push('Server.Password.policy_violation');
  }
  // Only root is protected (see update.ts and delete.ts).
  if (d.name === 'user' && op !== 'add') codes.push('Server.Conflict.protected');
  return codes;
}

export function notFound(d: EntityDescriptor, what: string): Fault {
  return new Fault('Server.NotFound', `No ${d.name.replace(/_/g, ' ')} with ${what}`);
}

/**
 * The `login_key` column for a login given to add or update a principal (the
 * name, for a class): its normalized form (see domain/login.ts), unless that
 * cannot be used. The schema already refused what the login itself may not
 * hold; this refuses what only its normalization reveals.
 */
export function keyColumn(d: EntityDescriptor, typed: string): { login_key: string } {
  const key = loginKey(typed);
  const problem =
    d.keyField === 'login' ? newLoginProblem(typed) : keyLength(key) > LOGIN_KEY_MAX ? `longer than ${LOGIN_KEY_MAX} characters when normalized` : undefined;
  if (problem) {
    throw new Fault('Client.Request.invalid_params', `Invalid params: this ${d.keyField} cannot be used: ${problem}`, {
      errors: [{ path: `/${d.keyField}`, keyword: 'normalization', message: problem, params: {} }],
    });
  }
  return { login_key: key };
}

export function keyTaken(d: EntityDescriptor): Fault {
  return new Fault('Server.Conflict.login_taken', `This ${d.keyField} is already taken${d.realm ? ` in realm ${d.realm}` : ''}`, { field: d.keyField });
}

/**
 * A principal's record for a caller allowed to read it: an admin holding the
 * entity's permission, or the principal itself. Anyone else gets the same
 * refusal whatever the lookup would find (it is not even made when the realm
 * already rules the caller out), so nobody learns which logins exist.
 */
export async function readableRecord(
  session: AuthenticatedSession | undefined,
  d: EntityDescriptor,
  find: () => Promise<Row | undefined>,
): Promise<{ row: Row | undefined; asAdmin: boolean }> {
  const asAdmin = session?.realm === 'admin' && session.permissions.includes(d.permission);
  if (!asAdmin && session?.realm !== d.realm) throw new Fault('Server.AccessControl.forbidden');
  const row = await find();
  if (!asAdmin && (!row || Number(row[d.idField]) !== session?.principalId)) throw new Fault('Server.AccessControl.forbidden');
  return { row, asAdmin };
}

export async function loadById(app: FastifyInstance, d: EntityDescriptor, id: number, trx?: Knex.Transaction): Promise<Row> {
  const row = await app.repos.entities[d.name].findById(id, trx);
  if (!row) throw notFound(d, `${d.idField} ${id}`);
  return row;
}

/** Every referenced row must exist and be of the right kind; an object never refers to itself. */
export async function checkReferences(
  app: FastifyInstance,
  d: EntityDescriptor,
  params: Params,
  selfId: number | undefined,
  trx: Knex.Transaction,
): Promise<void> {
  for (const ref of d.references) {
    const value = params[ref.field];
    if (value === undefined || value === null) continue;
    if (ref.entity === d.name && value === selfId) {
      throw new Fault('Server.Validation.invalid_reference', `${ref.field} cannot refer to the object itself`, { field: ref.field });
    }
    const target = await app.repos.entities[ref.entity].findById(Number(value), trx);
    if (!target) throw new Fault('Server.NotFound', `${ref.field} ${String(value)} does not exist`, { field: ref.field });
    if (ref.check && !ref.check.test(target)) throw new Fault('Server.Validation.invalid_reference', ref.check.message, { field: ref.field });
  }
}

/** Rows → info objects, with the 2FA chain resolved in batch and any per-row extras (passwords read back). */
export async function infos(app: FastifyInstance, d: EntityDescriptor, rows: Row[], extras: Row[] = []): Promise<Record<string, unknown>[]> {
  const model = entityModel(d);
  const effective = 'two_factor_auth_effective' in model.infoKinds ? await effective2fa(app.repos.entities, d, rows) : [];
  return rows.map((row, i) => toInfo(model, row, { ...(effective.length ? { two_factor_auth_effective: effective[i] } : {}), ...extras[i] }));
}

/** Whether a call sets the principal's web password (typed, or an imported hash). */
export const setsWebPassword = (params: Params): boolean => typeof params.password === 'string' || typeof params.password_hash === 'string';

/**
 * Passwords an admin sets for a principal: every one is checked against the
 * policy that applies to it (class overrides included) before any hashing;
 * the web password is then hashed (outside any transaction: bcrypt is slow),
 * or an imported hash taken as it is. It must be changed at the next login
 * as the call says (`password_must_change`), else when it was typed by an
 * admin for someone else and ADMIN_SET_PASSWORD_MUST_CHANGE is on: then the
 * admin knows it too. An admin's own password, or a hash imported from
 * another system, is known only to its owner.
 */
export async function adminSetPasswords(ctx: SessionCallContext, d: EntityDescriptor, target: Row, params: Params, selfId?: number): Promise<Row> {
  const { app } = ctx;
  const given = (['password', 'h323_password'] as const).filter((k) => typeof params[k] === 'string');
  if (given.length > 0) {
    const policy = await policyFor(app, d, target);
    for (const k of given) assertAcceptable(policy, params[k] as string);
  }
  const now = app.clock.now();
  const asked = typeof params.password_must_change === 'boolean' ? params.password_must_change : undefined;
  if (typeof params.password_hash === 'string') return importedHashColumns(d, params.password_hash, now, asked ?? false);
  if (typeof params.password !== 'string') return {};
  const ownPassword = d.realm === ctx.session.realm && selfId === ctx.session.principalId;
  return webPasswordColumns(app, params.password, now, asked ?? (!ownPassword && app.config.ADMIN_SET_PASSWORD_MUST_CHANGE));
}

/** An admin can grant only permissions it holds itself: `users.manage` is not a way to all the others. */
export function assertGrantable(ctx: SessionCallContext, params: Params): void {
  const wanted = params.permissions;
  if (!Array.isArray(wanted)) return;
  const missing = wanted.filter((p) => !ctx.session.permissions.includes(p as never));
  if (missing.length > 0) throw new Fault('Server.AccessControl.forbidden', `You cannot grant permissions you do not hold: ${missing.join(', ')}`);
}

/** The permissions an admin row holds (stored as a JSON array); root holds every one. */
function heldBy(row: Row): readonly string[] {
  if (row.is_root) return PERMISSIONS;
  const stored = row.permissions;
  if (Array.isArray(stored)) return stored as string[];
  return typeof stored === 'string' ? (JSON.parse(stored) as string[]) : [];
}

/**
 * An admin acts on another admin only if it holds every permission that
 * admin holds. Otherwise `users.manage` would be a way to all the others:
 * set a stronger admin's password (or block, delete, or strip its 2FA),
 * then sign in as it. Root holds every permission, so only root acts on
 * root, and an admin can always act on itself.
 */
export function assertOutranks(ctx: SessionCallContext, d: EntityDescriptor, target: Row): void {
  if (d.realm !== 'admin') return;
  if (ctx.session.realm === 'admin' && ctx.session.principalId === Number(target[d.idField])) return;
  const missing = heldBy(target).filter((p) => !ctx.session.permissions.includes(p as never));
  if (missing.length > 0) {
    throw new Fault('Server.AccessControl.forbidden', `This admin holds permissions you do not hold: ${missing.join(', ')}`);
  }
}

export async function audit(
  ctx: SessionCallContext,
  d: EntityDescriptor,
  op: string,
  entityId: number,
  details: Record<string, unknown>,
  trx?: Knex.Transaction,
): Promise<void> {
  await ctx.app.repos.audit.record(
    { ...actorOf(ctx), event: `${d.name}.${op}`, realm: d.realm ?? null, entity: d.name, entity_id: entityId, details },
    ctx.app.clock.now(),
    trx,
  );
}

/** What an audit row says of a web password a call set (never the password or hash itself). */
export function passwordDetails(secrets: Row): Record<string, boolean> {
  if (!('password_hash' in secrets)) return {};
  return { password_must_change: Boolean(secrets.password_must_change), ...(secrets.password_hash_imported ? { password_hash_imported: true } : {}) };
}

/** Names of the fields a call set; secrets are named, never their values. */
export const fieldNames = (params: Params, d: EntityDescriptor) => Object.keys(params).filter((k) => k !== d.idField);

export const titleOf = (d: EntityDescriptor) => d.name.replace(/_/g, ' ');

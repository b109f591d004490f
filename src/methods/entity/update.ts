import type { FastifyInstance } from 'fastify';
import type { Knex } from 'knex';
import { PERMISSIONS } from '../../domain/permissions.js';
import type { EntityDescriptor } from '../../entities/descriptors.js';
import { entitySchemas } from '../../entities/method-schemas.js';
import { entityModel, toColumns } from '../../entities/model.js';
import { isUniqueViolation, type Row } from '../../repositories/entities.js';
import { encryptedColumns } from '../../entities/passwords.js';
import { Fault } from '../../rpc/faults.js';
import type { MethodDefinition, SessionCallContext } from '../../rpc/registry.js';
import {
  adminSetPasswords,
  assertGrantable,
  assertOutranks,
  audit,
  writeFaults,
  checkReferences,
  fieldNames,
  keyColumn,
  keyTaken,
  loadById,
  passwordDetails,
  setsWebPassword,
  titleOf,
  type Params,
} from './shared.js';
import { retryingTransaction } from '../../repositories/writer.js';

/** `root` keeps every permission and cannot be blocked: there must always be a way back in. Only root changes its own credentials. */
function protectRoot(row: Row, params: Params, ctx: SessionCallContext, id: number): void {
  if (!row.is_root) return;
  const self = ctx.session.realm === 'admin' && ctx.session.principalId === id;
  if (!self && (setsWebPassword(params) || params.login !== undefined)) {
    throw new Fault('Server.Conflict.protected', "Only the root admin can change root's login or password");
  }
  if (params.blocked === true) throw new Fault('Server.Conflict.protected', 'The root admin cannot be blocked');
  const permissions = params.permissions as string[] | undefined;
  if (permissions && !PERMISSIONS.every((p) => permissions.includes(p))) {
    throw new Fault('Server.Conflict.protected', 'The root admin keeps every permission');
  }
}

/**
 * The new key when the login (name) changes, once it is known to be free. A
 * login given as it already is changes nothing, so a row that kept its old
 * key at migration 007 can still be updated by a client that sends every field.
 */
async function changedKey(app: FastifyInstance, d: EntityDescriptor, row: Row, params: Params, trx: Parameters<typeof loadById>[3]): Promise<Row> {
  const typed = params[d.keyField];
  if (typeof typed !== 'string' || typed === row[d.keyField]) return {};
  const key = keyColumn(d, typed);
  if (key.login_key !== row.login_key && (await app.repos.entities[d.name].findByKey(key.login_key, trx))) throw keyTaken(d);
  return key;
}

/**
 * Blocking a principal ends its sessions, and so does a password set by an
 * admin: unblocking later, or the old password's holder, must not get them
 * back (blocking, resetting the password and unblocking is the usual answer
 * to a stolen login). Its pending 2FA challenges and, for an admin, the
 * sessions it opened as others end with them (see revokeAllOf). An admin who
 * sets its own password keeps the session it does that in, as
 * `Session/change_password` does.
 */
async function endSessions(ctx: SessionCallContext, realm: string, id: number, params: Params, trx: Knex.Transaction): Promise<number> {
  const { app, session } = ctx;
  const now = app.clock.now();
  const reason = params.blocked === true ? 'blocked' : setsWebPassword(params) ? 'password_reset' : undefined;
  // Only an admin setting its own password keeps the session it calls from; blocking itself keeps nothing.
  const own = reason === 'password_reset' && session.realm === realm && session.principalId === id;
  const ended = reason ? await app.repos.sessions.revokeAllOf(realm, id, now, reason, own ? session.sessionId : undefined, trx) : 0;
  return ended + (losesImpersonation(realm, params) ? await app.repos.sessions.revokeImpersonationsBy(id, now, 'permission_revoked', trx) : 0);
}

/**
 * An admin whose permissions no longer include `sessions.impersonate` loses
 * the sessions it opened as others with it, for good: giving the permission
 * back later must not revive them (every call checks the permission too, but
 * a refresh would otherwise keep them going).
 */
const losesImpersonation = (realm: string, params: Params): boolean =>
  realm === 'admin' && Array.isArray(params.permissions) && !params.permissions.includes('sessions.impersonate');

/** `<Service>/update_<entity>`: changes only the fields named. */
export function updateMethod(d: EntityDescriptor): MethodDefinition<Params, Record<string, number>> {
  const model = entityModel(d);
  const schemas = entitySchemas(model).update;
  return {
    name: `${d.service}/update_${d.name}`,
    summary: `Change a ${titleOf(d)}: only the fields given.`,
    description:
      "A password set here (`password`, or an imported `password_hash`) ends the principal's sessions (an admin setting its own keeps the session it calls from); one an admin types for someone else must be changed at the next login unless `password_must_change` (default ADMIN_SET_PASSWORD_MUST_CHANGE) says otherwise. Blocking a principal ends its sessions at once; unblocking does not bring them back. Either also voids the principal's pending `mfa_token`s and, for an admin, ends the sessions it opened as others, as does taking `sessions.impersonate` from it. An admin user can be changed only by an admin holding every permission it holds.",
    access: { kind: 'admin', permission: d.permission },
    params: schemas.params,
    result: schemas.result,
    faults: ['Server.AccessControl.forbidden', 'Server.NotFound', ...writeFaults(d, 'update')],
    async handler(params, c) {
      const ctx = c as SessionCallContext;
      const { app } = ctx;
      const id = Number(params[d.idField]);
      const now = app.clock.now();
      const current = await loadById(app, d, id);
      const secrets = await adminSetPasswords(ctx, d, { ...current, ...params }, params, id);
      return retryingTransaction(app.db, async (trx) => {
        const row = await loadById(app, d, id, trx);
        assertGrantable(ctx, params);
        protectRoot(row, params, ctx, id);
        assertOutranks(ctx, d, row);
        const key = await changedKey(app, d, row, params, trx);
        await checkReferences(app, d, params, id, trx);
        try {
          await app.repos.entities[d.name].update(
            id,
            { ...toColumns(model, params), ...key, ...secrets, ...encryptedColumns(app, d, id, params), updated_at: now },
            trx,
          );
        } catch (err) {
          if (isUniqueViolation(err)) throw keyTaken(d);
          throw err;
        }
        const revoked = d.realm ? await endSessions(ctx, d.realm, id, params, trx) : 0;
        const details = { fields: fieldNames(params, d), ...passwordDetails(secrets), ...(revoked > 0 ? { sessions_revoked: revoked } : {}) };
        await audit(ctx, d, 'update', id, details, trx);
        return { [d.idField]: id };
      });
    },
  };
}

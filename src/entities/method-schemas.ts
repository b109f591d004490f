import { SCHEMA_BASE, type JsonSchema } from '../rpc/schemas.js';
import type { EntityModel } from './model.js';
import { hasReadableCopy } from './passwords.js';

const COMMON = '../common.json#/$defs/';

/**
 * The params and result schemas of the generic admin methods, composed from
 * the entity's schema file. Each gets an `$id` beside that file so the
 * file's relative `$ref`s resolve the same way.
 */
function composed(m: EntityModel, op: string, part: 'params' | 'result', body: JsonSchema): JsonSchema {
  return { $id: `${SCHEMA_BASE}entities/${m.descriptor.name}.${op}.${part}.json`, type: 'object', additionalProperties: false, ...body };
}

const idRef = { $ref: `${COMMON}id` };
const infoRef = (m: EntityModel) => ({ $ref: `${m.descriptor.name}.json#/$defs/info` });
const success = { required: ['success'], properties: { success: { const: 1 } } };

/** Field schemas without their defaults: an update must not reset what it does not name. */
function withoutDefaults(fields: Record<string, JsonSchema>): Record<string, JsonSchema> {
  return Object.fromEntries(
    Object.entries(fields).map(([k, s]) => {
      const { default: _ignored, ...rest } = s;
      return [k, rest];
    }),
  );
}

/**
 * How an admin sets a principal's web password besides `password`: an
 * imported hash, and whether it must be changed at the next login. Each
 * applies only to a password set in the same call, and a call sets one
 * password at most.
 */
const passwordOptions = {
  properties: {
    password_hash: {
      $ref: `${COMMON}bcrypt_hash`,
      writeOnly: true,
      description:
        "Instead of `password`: the principal's bcrypt hash from another system, kept as it is, so the principal logs in with its old password (write-only, never returned or logged). The password policy cannot be checked on a hash; the expiry clock starts now. At the first login with the right password the service replaces it with a hash of its own and, while SECURITY_ENCRYPT_PASSWORDS is on, takes the readable copy where the entity keeps one. Not together with `password`.",
    },
    password_must_change: {
      type: 'boolean',
      description:
        "Whether the password set in this call (`password` or `password_hash`) must be changed at the next login. Default: ADMIN_SET_PASSWORD_MUST_CHANGE (`true`) for a `password` set for someone else, `false` for an admin's own and for an imported hash. Refused without `password` or `password_hash`.",
    },
  },
  dependentSchemas: {
    password_hash: { properties: { password: false } },
    password_must_change: { anyOf: [{ required: ['password'] }, { required: ['password_hash'] }] },
  },
};

export function entitySchemas(m: EntityModel) {
  const d = m.descriptor;
  // A principal that must have a password from the start (an admin user) may get an imported hash instead.
  const passwordRequired = d.requiredOnAdd.includes('password');
  // Only principals log in, so only they have passwords to set.
  const password = d.realm ? passwordOptions : undefined;
  const idOnly = (op: string) => composed(m, op, 'params', { required: [d.idField], properties: { [d.idField]: idRef } });
  const idResult = (op: string) => composed(m, op, 'result', { required: [d.idField], properties: { [d.idField]: idRef } });
  const referenceFilters = Object.fromEntries(
    d.references.map((r) => [r.field, { type: 'integer', minimum: 1, description: `Only rows with this ${r.field}.` }]),
  );
  return {
    add: {
      params: composed(m, 'add', 'params', {
        required: passwordRequired ? d.requiredOnAdd.filter((f) => f !== 'password') : d.requiredOnAdd,
        properties: { ...m.fieldSchemas, ...password?.properties },
        ...(password ? { dependentSchemas: password.dependentSchemas } : {}),
        ...(passwordRequired ? { anyOf: [{ required: ['password'] }, { required: ['password_hash'] }] } : {}),
      }),
      result: idResult('add'),
    },
    info: {
      params: composed(m, 'info', 'params', {
        properties: {
          [d.idField]: idRef,
          // Looked up as typed: a login that exists is found whatever it holds (see common.json login_typed).
          [d.keyField]: d.keyField === 'login' ? { $ref: `${COMMON}login_typed` } : m.fieldSchemas[d.keyField],
          ...(hasReadableCopy(d)
            ? {
                get_auth_info: {
                  type: 'integer',
                  enum: [0, 1],
                  default: 0,
                  description:
                    'With 1, an admin holding `passwords.read` also gets the stored passwords in plain text (each read is audited); otherwise they are absent.',
                },
              }
            : {}),
        },
        // By id, by key, or neither: then the caller's own record (a principal of the entity's realm).
        not: { required: [d.idField, d.keyField] },
      }),
      result: composed(m, 'info', 'result', { required: [`${d.name}_info`], properties: { [`${d.name}_info`]: infoRef(m) } }),
    },
    update: {
      params: composed(m, 'update', 'params', {
        required: [d.idField],
        properties: { [d.idField]: idRef, ...withoutDefaults(m.fieldSchemas), ...password?.properties },
        ...(password ? { dependentSchemas: password.dependentSchemas } : {}),
      }),
      result: idResult('update'),
    },
    list: {
      params: composed(m, 'list', 'params', {
        properties: {
          // Defaults beside the $ref: ajv applies defaults only where the property is declared.
          limit: { $ref: `${COMMON}limit`, default: 100 },
          offset: { $ref: `${COMMON}offset`, default: 0 },
          cursor: { $ref: `${COMMON}cursor` },
          with_total: { $ref: `${COMMON}with_total`, default: false },
          [`${d.keyField}_prefix`]: { $ref: `${COMMON}prefix` },
          ...referenceFilters,
        },
      }),
      result: composed(m, 'list', 'result', {
        required: [`${d.name}_list`, 'next_cursor'],
        properties: {
          [`${d.name}_list`]: { type: 'array', items: infoRef(m) },
          next_cursor: { $ref: `${COMMON}next_cursor` },
          total: { $ref: `${COMMON}total` },
        },
      }),
    },
    delete: { params: idOnly('delete'), result: composed(m, 'delete', 'result', success) },
    reset2fa: { params: idOnly('reset_2fa_key'), result: composed(m, 'reset_2fa_key', 'result', success) },
  };
}

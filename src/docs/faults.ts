import { CHAR_CLASSES } from '../domain/passwords/policy.js';
import { FAULTS, type FaultCode } from '../rpc/faults.js';
import type { MethodDefinition } from '../rpc/registry.js';

type Schema = Record<string, unknown>;

/** One detail member a fault carries beside `faultcode` (and, over REST, `faultstring`). */
interface Detail {
  schema: Schema;
  /** Whether every fault of the code carries it. */
  always: boolean;
}

const retryAfter: Detail = {
  always: true,
  schema: {
    type: 'integer',
    minimum: 1,
    description: 'Whole seconds to wait before trying again; REST also sends it as the `Retry-After` header.',
  },
};

const errorId: Detail = {
  always: false,
  schema: {
    type: 'string',
    format: 'uuid',
    description: "The id under which the service logged what went wrong: quote it to the service's operators.",
  },
};

const field = (always: boolean, description: string): Detail => ({ always, schema: { type: 'string', description } });

/** The params refused, as `dispatch.ts` (ajv's errors via `publicErrors`) and the methods' own checks report them. */
const validationErrors: Detail = {
  always: true,
  schema: {
    type: 'array',
    description: 'What is wrong with the params, one entry per problem.',
    items: {
      type: 'object',
      required: ['path', 'keyword', 'message', 'params'],
      additionalProperties: false,
      properties: {
        path: { type: 'string', description: 'JSON Pointer of the refused value in the params (`/` for the params object).', examples: ['/login'] },
        keyword: { type: 'string', description: 'The JSON Schema keyword (or check) that refused it.', examples: ['required', 'maxLength'] },
        message: { type: 'string' },
        params: { type: 'object', description: "The keyword's own details (e.g. `missingProperty`, `limit`)." },
      },
    },
  },
};

/** `policy.ts` passwordViolations(): the rules of the password policy a password breaks. */
const violations: Detail = {
  always: true,
  schema: {
    type: 'array',
    minItems: 1,
    description: 'The password policy rules the password breaks (see Session/get_password_policy).',
    items: {
      type: 'string',
      enum: [
        'min_length',
        'max_length',
        ...CHAR_CLASSES.map((c) => `must_include_${c}`),
        ...CHAR_CLASSES.map((c) => `cannot_include_${c}`),
        'invalid_characters',
      ],
    },
  },
};

/**
 * Every detail member each fault code can carry: what `new Fault(code, message, detail)`
 * passes anywhere in src/ (a test checks real answers against these). Codes not
 * listed carry none.
 */
export const FAULT_DETAILS: Partial<Record<FaultCode, Record<string, Detail>>> = {
  'Client.Request.invalid_params': { errors: validationErrors },
  'Client.Request.rate_limited': { retry_after: retryAfter },
  'Server.Session.cannot_login_brute_force_activity': { retry_after: retryAfter },
  'Server.Session.otp_invalid': {
    hint: {
      always: false,
      schema: {
        type: 'string',
        enum: ['clock_skew'],
        description: "`clock_skew`: the code would be valid at another time not far off: the device's clock is probably wrong.",
      },
    },
  },
  'Server.Password.policy_violation': { violations },
  'Server.Conflict.has_children': {
    children: {
      always: true,
      schema: {
        type: 'object',
        description: 'How many objects of each entity still refer to the one to delete.',
        additionalProperties: { type: 'integer', minimum: 1 },
        examples: [{ account: 2 }],
      },
    },
  },
  'Server.Conflict.login_taken': { field: field(true, "The param holding the taken value (`login`, or the entity's key field).") },
  'Server.Validation.invalid_reference': { field: field(true, 'The param whose reference is refused.') },
  'Server.NotFound': { field: field(false, 'The param naming the object that does not exist, when the missing one is a reference.') },
  'Server.Internal.error': { error_id: { ...errorId, always: true } },
  'Server.Unavailable': { error_id: errorId },
};

/** Component names: `Fault.<code>` is a REST (and PortaBilling) fault body, `FaultData.<code>` the `data` of a JSON-RPC error. */
export const faultRef = (code: FaultCode) => ({ $ref: `#/components/schemas/Fault.${code}` });
export const faultDataRef = (code: FaultCode) => ({ $ref: `#/components/schemas/FaultData.${code}` });

const ALL_CODES = Object.keys(FAULTS) as FaultCode[];

function faultSchema(code: FaultCode, withFaultstring: boolean): Schema {
  const details = FAULT_DETAILS[code] ?? {};
  const { http, rpc, message } = FAULTS[code];
  return {
    type: 'object',
    description: `\`${code}\` (HTTP ${http}, JSON-RPC ${rpc}): ${message}.`,
    required: [
      'faultcode',
      ...(withFaultstring ? ['faultstring'] : []),
      ...Object.entries(details)
        .filter(([, d]) => d.always)
        .map(([name]) => name),
    ],
    additionalProperties: false,
    properties: {
      faultcode: { type: 'string', const: code },
      ...(withFaultstring ? { faultstring: { type: 'string', description: 'For people; may say more than the fault code.' } } : {}),
      ...Object.fromEntries(Object.entries(details).map(([name, d]) => [name, d.schema])),
    },
  };
}

/** A fault of any of `codes`, told apart by `faultcode`. */
export function anyFault(codes: readonly FaultCode[], ref: (code: FaultCode) => { $ref: string } = faultRef): Schema {
  if (codes.length === 1) return ref(codes[0] as FaultCode);
  return {
    oneOf: codes.map(ref),
    discriminator: { propertyName: 'faultcode', mapping: Object.fromEntries(codes.map((c) => [c, ref(c).$ref])) },
  };
}

/** The schema components of every fault code, both shapes. */
export function faultComponents(): Record<string, Schema> {
  return {
    Fault: { ...anyFault(ALL_CODES), description: 'Any fault: `faultcode`, `faultstring` and the detail members of that fault code.' },
    FaultCode: {
      type: 'string',
      enum: ALL_CODES,
      description: Object.entries(FAULTS)
        .map(([code, f]) => `- \`${code}\`: HTTP ${f.http}, JSON-RPC ${f.rpc}. ${f.message}`)
        .join('\n'),
    },
    FaultData: { ...anyFault(ALL_CODES, faultDataRef), description: "The `data` of a JSON-RPC error: `faultcode` and that fault code's detail members." },
    ...Object.fromEntries(ALL_CODES.map((code) => [`Fault.${code}`, faultSchema(code, true)])),
    ...Object.fromEntries(ALL_CODES.map((code) => [`FaultData.${code}`, faultSchema(code, false)])),
  };
}

/** Faults any method can answer, by the kind of access it needs, before and beside its own. */
export function transportFaults(m: MethodDefinition): FaultCode[] {
  const codes: FaultCode[] = [
    'Client.Request.parse_error',
    'Client.Request.invalid_params',
    'Client.Request.too_large',
    'Client.Request.unsupported_media_type',
    'Server.Internal.error',
    'Server.Unavailable',
    // Any call may carry a portal client's headers (see rpc/call-origin.ts).
    'Server.Session.portal_client_auth_failed',
    'Client.Request.invalid_end_user_ip',
  ];
  if (m.access.kind !== 'public') {
    codes.push(
      'Client.Session.check_auth.failed_to_process_access_token',
      'Server.Session.check_auth.auth_failed',
      'Server.Session.alert_You_must_change_password',
    );
  }
  if (m.access.kind === 'admin' || (m.access.kind === 'session' && m.access.denyImpersonated)) codes.push('Server.AccessControl.forbidden');
  return codes;
}

/** Every fault a method can answer: the transport's and its own declared ones. */
export const methodFaults = (m: MethodDefinition): FaultCode[] => [...new Set([...transportFaults(m), ...m.faults])];

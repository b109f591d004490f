/**
 * The one registry of fault codes. A fault code is a dotted PortaBilling-style
 * string; each has its HTTP status (REST transport), its JSON-RPC error code
 * (`/rpc` transport) and the faultstring callers see. Nothing else in the code
 * base decides how a fault looks on the wire.
 *
 * JSON-RPC codes: the spec reserves -32700..-32600 for protocol errors; the
 * application faults use -32000..-32099 ("server error" range), one per HTTP
 * status so clients can branch on either.
 */
export const FAULTS = {
  // Protocol faults: fixed JSON-RPC codes from the JSON-RPC 2.0 specification.
  'Client.Request.parse_error': { http: 400, rpc: -32700, message: 'Parse error: the body is not valid JSON' },
  'Client.Request.invalid_request': { http: 400, rpc: -32600, message: 'Invalid Request' },
  'Client.Request.method_not_found': { http: 404, rpc: -32601, message: 'Method not found' },
  'Client.Request.invalid_params': { http: 400, rpc: -32602, message: 'Invalid params' },
  'Client.Request.too_large': { http: 413, rpc: -32600, message: 'Invalid Request: the body is larger than BODY_LIMIT' },
  'Client.Request.unsupported_media_type': {
    http: 415,
    rpc: -32600,
    message: 'Unsupported Media Type: send the body as JSON with "Content-Type: application/json"',
  },
  'Client.Request.invalid_end_user_ip': {
    http: 400,
    rpc: -32600,
    message: 'Invalid Request: X-End-User-IP must be exactly one IPv4 or IPv6 address',
  },
  'Server.Internal.error': { http: 500, rpc: -32603, message: 'Internal error' },

  // Authentication of the caller (Bearer token) and of logins.
  'Client.Session.check_auth.failed_to_process_access_token': {
    http: 401,
    rpc: -32001,
    message: 'The access token is missing, malformed or expired',
  },
  'Server.Session.check_auth.auth_failed': { http: 401, rpc: -32001, message: 'The session has ended; log in again' },
  'Server.Session.auth_failed': { http: 401, rpc: -32001, message: 'Login failed: wrong login, password or realm' },
  'Server.Session.portal_client_auth_failed': {
    http: 401,
    rpc: -32001,
    message: 'The X-Portal-Client credential is not valid (unknown, revoked or wrong)',
  },

  'Server.Session.otp_invalid': { http: 401, rpc: -32001, message: 'The one-time password is not valid' },
  'Server.Session.otp_replayed': { http: 401, rpc: -32001, message: 'This one-time password was already used; wait for the next one' },
  'Server.Session.mfa_token_invalid': { http: 401, rpc: -32001, message: 'The mfa_token is expired, already used or unknown; log in again' },
  'Server.Session.refresh_token_invalid': { http: 401, rpc: -32001, message: 'The refresh token is not valid; log in again' },
  'Server.Session.cannot_login_brute_force_activity': {
    http: 429,
    rpc: -32029,
    message: 'Too many failed attempts; try again later',
  },

  // Two-factor self-service.
  'Server.TwoFactor.required_by_policy': { http: 409, rpc: -32009, message: 'Two-factor authentication is required by policy and cannot be disabled' },
  'Server.TwoFactor.already_enrolled': { http: 409, rpc: -32009, message: 'Two-factor authentication is already enrolled' },
  'Server.TwoFactor.not_enrolled': { http: 409, rpc: -32009, message: 'Two-factor authentication is not enrolled' },

  // Authorization.
  'Server.AccessControl.forbidden': { http: 403, rpc: -32003, message: 'You are not allowed to call this method' },
  'Server.Session.alert_You_must_change_password': {
    http: 403,
    rpc: -32003,
    message: 'You must change your password before doing anything else (Session/change_password)',
  },

  // Data.
  'Server.NotFound': { http: 404, rpc: -32004, message: 'No such object' },
  'Server.Conflict.login_taken': { http: 409, rpc: -32009, message: 'This login is already taken in this realm' },
  'Server.Conflict.has_children': { http: 409, rpc: -32009, message: 'The object still has dependent objects; remove them first' },
  'Server.Conflict.protected': { http: 409, rpc: -32009, message: 'This object is protected and cannot be changed this way' },
  'Server.Validation.invalid_reference': { http: 422, rpc: -32022, message: 'A referenced object is not of the right kind' },

  // Passwords.
  'Server.Password.policy_violation': {
    http: 422,
    rpc: -32022,
    message: 'The password does not meet the password policy',
  },
  'Server.Password.wrong_old_password': { http: 403, rpc: -32003, message: 'The current password is not correct' },
  'Server.Password.reset_token_invalid': {
    http: 401,
    rpc: -32001,
    message: 'The password reset token is expired, already used or unknown; request a new one',
  },

  // Availability.
  'Client.Request.rate_limited': { http: 429, rpc: -32029, message: 'Too many requests; try again later' },
  'Server.Unavailable': { http: 503, rpc: -32053, message: 'The service is temporarily unavailable' },
} as const satisfies Record<string, { http: number; rpc: number; message: string }>;

export type FaultCode = keyof typeof FAULTS;

export type FaultDetail = Record<string, unknown>;

/**
 * An application fault: the only error type whose message and detail reach
 * the caller. Any other thrown error becomes `Server.Internal.error` with an
 * error id (see rpc/errors.ts), so internals never leak.
 */
export class Fault extends Error {
  override readonly name = 'Fault';
  readonly expose = true;
  constructor(
    readonly faultcode: FaultCode,
    message?: string,
    readonly detail: FaultDetail = {},
  ) {
    super(message ?? FAULTS[faultcode].message);
  }

  get http(): number {
    return FAULTS[this.faultcode].http;
  }

  get rpcCode(): number {
    return FAULTS[this.faultcode].rpc;
  }
}

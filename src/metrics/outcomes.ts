import { isUnavailable } from '../rpc/errors.js';
import { Fault, type FaultCode } from '../rpc/faults.js';

/**
 * The fault a caller sees for what a call threw, as rpc/errors.ts `toFault`
 * turns it into one: the label of `billing_auth_calls_total`. Always a code
 * of the fault list, so label values are bounded.
 */
export function faultCodeOf(err: unknown): FaultCode {
  if (err instanceof Fault) return err.faultcode;
  return isUnavailable(err) ? 'Server.Unavailable' : 'Server.Internal.error';
}

const STEP_OUTCOMES: Partial<Record<FaultCode, string>> = {
  'Server.Session.auth_failed': 'failed',
  'Server.Session.cannot_login_brute_force_activity': 'locked',
  'Client.Request.rate_limited': 'rate_limited',
  'Server.Session.otp_invalid': 'otp_invalid',
  'Server.Session.otp_replayed': 'otp_replayed',
  'Server.Session.mfa_token_invalid': 'mfa_token_invalid',
  'Client.Request.invalid_params': 'invalid_params',
};

const RESULT_STATUSES = new Set(['authenticated', 'password_change_required', 'otp_required', 'otp_enrollment_required']);

/** The login step a method is (`password`: Session/login; `otp`: Session/verify_otp), or undefined for any other. */
export function loginStep(method: string): 'password' | 'otp' | undefined {
  if (method === 'Session/login') return 'password';
  if (method === 'Session/verify_otp') return 'otp';
  return undefined;
}

/**
 * How a login step ended, from what the caller got: the `status` of its
 * result (`authenticated`, `password_change_required`, `otp_required`,
 * `otp_enrollment_required`), or what its fault means (`failed`, `locked`,
 * `rate_limited`, `otp_invalid`, `otp_replayed`, `mfa_token_invalid`,
 * `invalid_params`), any other fault `error`. A fixed set.
 */
export function loginOutcome(result: unknown, faultcode: FaultCode | undefined): string {
  if (faultcode !== undefined) return STEP_OUTCOMES[faultcode] ?? 'error';
  const status = (result as { status?: unknown } | null)?.status;
  return typeof status === 'string' && RESULT_STATUSES.has(status) ? status : 'authenticated';
}

/** `invalid` or `replayed` for the faults of a wrong one-time code (any method that takes one), else undefined. */
export function otpFailureReason(faultcode: FaultCode | undefined): 'invalid' | 'replayed' | undefined {
  if (faultcode === 'Server.Session.otp_invalid') return 'invalid';
  if (faultcode === 'Server.Session.otp_replayed') return 'replayed';
  return undefined;
}

/** A driver's error code as a label: codes are a fixed vocabulary of the drivers; anything else is `other`. */
export function errorCodeLabel(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[A-Z][A-Z0-9_]{0,63}$/.test(code) ? code : 'other';
}

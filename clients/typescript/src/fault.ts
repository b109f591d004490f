import { FAULT_CODES, type FaultCode, type FaultDetails } from './generated/faults.js';

const KNOWN = new Set<string>(FAULT_CODES);

/**
 * A fault the service answered with: its `faultcode`, its `faultstring` (for people) and the
 * detail members of that code (`retry_after`, `violations`, `errors`, `hint`, ...), typed per code.
 * Narrow with `fault.is('Server.Session.otp_invalid')` (or `BillingAuthFault.is(err, code)` on an
 * unknown error) to read `details` without casts.
 */
export class BillingAuthFault<C extends FaultCode = FaultCode> extends Error {
  override readonly name = 'BillingAuthFault';
  readonly faultcode: C;
  readonly faultstring: string;
  /** The members of the fault body beside `faultcode` and `faultstring`. */
  readonly details: FaultDetails[C];
  /** The HTTP status it came with. */
  readonly status: number;
  /** The method called, `Service/method`. */
  readonly method: string;
  /** The service's `X-Request-Id` of the call, to quote to its operators. */
  readonly requestId: string | undefined;

  constructor(init: { faultcode: C; faultstring: string; details: FaultDetails[C]; status: number; method: string; requestId?: string }) {
    super(`${init.faultcode}: ${init.faultstring}`);
    this.faultcode = init.faultcode;
    this.faultstring = init.faultstring;
    this.details = init.details;
    this.status = init.status;
    this.method = init.method;
    this.requestId = init.requestId;
  }

  /** Whether this fault has one of `codes`; narrows `details` to those codes' members. */
  is<K extends FaultCode>(...codes: K[]): this is BillingAuthFault<K> {
    return (codes as FaultCode[]).includes(this.faultcode);
  }

  /** Whether `err` is a fault of the service (of one of `codes`, when given). */
  static is<K extends FaultCode = FaultCode>(err: unknown, ...codes: K[]): err is BillingAuthFault<K> {
    return err instanceof BillingAuthFault && (codes.length === 0 || (codes as FaultCode[]).includes(err.faultcode));
  }

  /** Whether the service knows `code` (a newer service may answer codes this client was not generated with). */
  static isKnownCode(code: string): code is FaultCode {
    return KNOWN.has(code);
  }
}

/**
 * The call did not get an answer from the service: the network failed, or what answered was not
 * the service (a proxy's HTML error page, an empty body). Nothing says whether the call ran.
 */
export class BillingAuthTransportError extends Error {
  override readonly name = 'BillingAuthTransportError';
  /** The HTTP status, when an answer came. */
  readonly status: number | undefined;
  readonly method: string;

  constructor(method: string, message: string, options: { status?: number; cause?: unknown } = {}) {
    super(`${method}: ${message}`, { cause: options.cause });
    this.method = method;
    this.status = options.status;
  }
}

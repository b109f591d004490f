import { timingSafeEqual } from 'node:crypto';
import { HOTP, Secret, TOTP } from 'otpauth';

/**
 * Time-based one-time passwords (RFC 6238) on top of HOTP (RFC 4226), with
 * the parameters every authenticator app understands: SHA-1, 6 digits, 30 s
 * steps (the defaults of the Google Authenticator Key Uri Format, which some
 * apps silently assume whatever the URI says; 30 s is RFC 6238 section 5.2's
 * recommended step). All OTP arithmetic is done by `otpauth`; this module only
 * fixes the parameters and adds the verification policy.
 *
 * Security invariants (NIST SP 800-63B 5.1.4.2 / 5.1.5.2, RFC 6238 section 5.2):
 *  - a code is accepted only within `window` steps of the verifier's clock;
 *  - comparison is constant-time and every candidate step is compared, so
 *    timing reveals neither how close a guess was nor which step matched;
 *  - the matched step is returned so the caller can refuse a second use of
 *    the same (or an earlier) step: "verifiers SHALL accept a given time-
 *    based OTP only once during the validity period" (SP 800-63B 5.1.4.2,
 *    5.1.5.2);
 *  - codes from further away are never accepted; they only yield a hint.
 * Rate limiting of attempts (SP 800-63B 5.2.2) is the caller's job.
 */
export const TOTP_PERIOD_SECONDS = 30;
export const TOTP_DIGITS = 6;
export const TOTP_ALGORITHM = 'SHA1';

/** RFC 4226 section 4 R6: the shared secret MUST be at least 128 bits. */
const MIN_SECRET_BYTES = 16;
/** RFC 4226 section 4 recommends 160 bits, the size of SHA-1's output. */
const SECRET_BYTES = 20;
/** Codes this many steps away (5 minutes) are still reported as clock skew, never accepted. */
const MAX_SKEW_HINT_STEPS = 10;

const CODE_PATTERN = /^[0-9]{6}$/;

/** 160-bit random secret, base32 (RFC 4226 section 4 recommends 160 bits). */
export function generateSecret(): string {
  // otpauth's Secret draws from the platform CSPRNG (crypto.getRandomValues).
  return new Secret({ size: SECRET_BYTES }).base32;
}

/** The RFC 6238 time step T = floor((now - T0) / X) with T0 = 0 and X = 30 s. */
export function stepAt(timeMs: number): number {
  return TOTP.counter({ period: TOTP_PERIOD_SECONDS, timestamp: timeMs });
}

/** The 6-digit code for the instant `timeMs`. */
export function codeAt(secretBase32: string, timeMs: number): string {
  return codeForStep(parseSecret(secretBase32), stepAt(timeMs));
}

export type OtpCheck =
  /** The matched time step, for replay protection by the caller. */
  | { ok: true; step: number }
  /**
   * `skewSteps`: the code matches 2..10 steps away (negative = the phone's
   * clock is behind), for a "clock_skew" hint. Such codes are never accepted.
   */
  | { ok: false; skewSteps?: number };

/**
 * Checks `code` against steps now-window .. now+window. `window` is the number
 * of steps tolerated either side for clock drift and typing delay; RFC 6238
 * section 5.2 recommends at most one.
 */
export function verifyTotp(secretBase32: string, code: string, nowMs: number, window: number): OtpCheck {
  if (!Number.isInteger(window) || window < 0) throw new RangeError(`window must be a non-negative integer, got ${window}`);
  const secret = parseSecret(secretBase32);
  // Only exactly six ASCII digits: no trimming, no Unicode digits, no 8-digit codes.
  if (!CODE_PATTERN.test(code)) return { ok: false };
  const given = Buffer.from(code, 'ascii');
  const now = stepAt(nowMs);

  // No early exit: every step in the window is computed and compared, and the
  // latest match wins, so the response time is the same whichever step (if any)
  // matched and a guesser learns nothing beyond accepted / refused. The latest
  // match wins because the caller stores it as "last used step" and refuses
  // anything not after it: on a (1 in 10^6) collision, the later step is the
  // conservative choice.
  let matched: number | undefined;
  for (let step = now - window; step <= now + window; step++) {
    if (step < 0) continue;
    if (timingSafeEqual(given, Buffer.from(codeForStep(secret, step), 'ascii'))) matched = step;
  }
  if (matched !== undefined) return { ok: true, step: matched };

  // The code was wrong for the accepted window, which the result already
  // reveals; looking further out only tells a user with a drifting clock why.
  // Nearest distance first, so the hint is the smallest plausible skew.
  for (let distance = Math.max(window + 1, 2); distance <= MAX_SKEW_HINT_STEPS; distance++) {
    for (const skewSteps of [-distance, distance]) {
      const step = now + skewSteps;
      if (step >= 0 && timingSafeEqual(given, Buffer.from(codeForStep(secret, step), 'ascii'))) return { ok: false, skewSteps };
    }
  }
  return { ok: false };
}

/**
 * Google Authenticator Key Uri Format:
 * otpauth://totp/<Issuer>:<login>?issuer=...&secret=...&algorithm=SHA1&digits=6&period=30
 * Issuer and login are percent-encoded (RFC 3986), and the issuer is repeated
 * as a parameter as the format strongly recommends. otpauth's `TOTP.toString()`
 * produces exactly this, with the secret unpadded.
 *
 * The format says neither issuer nor login may contain a colon, and lets apps
 * split the label on an encoded colon too: a ':' in either is encoded here but
 * may still be shown mis-split by an app. The `issuer` parameter, which apps
 * prefer over the label prefix, is unaffected. Callers that control issuer and
 * login should keep colons out of them.
 */
export function otpauthUri(opts: { issuer: string; login: string; secretBase32: string }): string {
  return new TOTP({
    issuer: opts.issuer,
    label: opts.login,
    issuerInLabel: true,
    secret: parseSecret(opts.secretBase32),
    algorithm: TOTP_ALGORITHM,
    digits: TOTP_DIGITS,
    period: TOTP_PERIOD_SECONDS,
  }).toString();
}

/** TOTP is HOTP with the time step as counter (RFC 6238 section 4.2). */
function codeForStep(secret: Secret, step: number): string {
  return HOTP.generate({ secret, algorithm: TOTP_ALGORITHM, digits: TOTP_DIGITS, counter: step });
}

function parseSecret(secretBase32: string): Secret {
  const secret = Secret.fromBase32(secretBase32);
  // A short or empty secret would still "work", silently; refuse it instead.
  if (secret.bytes.length < MIN_SECRET_BYTES) throw new RangeError(`TOTP secret must be at least ${MIN_SECRET_BYTES * 8} bits (RFC 4226 section 4 R6)`);
  return secret;
}

import { BillingAuthFault } from '@billing-auth/client';

/** What a fault means to the person at the keyboard, in words. */
export function describeFault(err: unknown): string {
  if (!(err instanceof BillingAuthFault)) {
    return 'The service could not be reached. Check your connection and try again.';
  }
  const details = (err.details ?? {}) as Record<string, unknown>;
  const wait = typeof details.retry_after === 'number' ? waitWords(details.retry_after) : 'a while';
  switch (err.faultcode) {
    case 'Server.Session.auth_failed':
      return 'The user name or password is not right.';
    case 'Server.Session.otp_invalid':
      if (details.hint === 'clock_skew') return CLOCK_SKEW;
      return 'That code is not right. Enter the code your authenticator app shows now.';
    case 'Server.Session.otp_replayed':
      return 'That code was already used. Wait until your app shows the next code (codes change every 30 seconds) and enter that one.';
    case 'Server.Session.mfa_token_invalid':
      return 'This sign-in has expired or was cancelled. Please sign in again.';
    case 'Server.Session.cannot_login_brute_force_activity':
      return `Too many failed attempts: this login is locked for now. Try again in ${wait}.`;
    case 'Client.Request.rate_limited':
      return `Too many attempts from your network. Try again in ${wait}.`;
    case 'Server.Password.wrong_old_password':
      return 'Your current password is not right.';
    case 'Server.Password.reset_token_invalid':
      return 'This reset link is no longer valid: it was used, it expired, or a newer one was sent. Ask for a new one.';
    case 'Server.TwoFactor.required_by_policy':
      return 'Two-factor authentication is required for your login, so it cannot be turned off.';
    case 'Server.TwoFactor.already_enrolled':
      return 'Two-factor authentication is already on.';
    case 'Server.TwoFactor.not_enrolled':
      return 'Two-factor authentication is not on.';
    case 'Server.Session.check_auth.auth_failed':
    case 'Client.Session.check_auth.failed_to_process_access_token':
    case 'Server.Session.refresh_token_invalid':
      return 'Your session has ended. Please sign in again.';
    case 'Server.Unavailable':
      return 'The service is unavailable for a moment. Try again shortly.';
    default:
      return err.faultstring || 'Something went wrong. Try again.';
  }
}

/**
 * `hint: "clock_skew"`: the code would be right 2 to 10 steps (1 to 5
 * minutes) away from the service's time, so the code is real but the phone's
 * clock is off. Saying so is the one thing the user can act on.
 */
export const CLOCK_SKEW =
  "That code is not valid right now, but it would be if your phone's clock were right: your phone's clock is off by a minute or more. " +
  'Set the date and time on your phone to update automatically (in its settings), then enter the code the app shows.';

function waitWords(seconds: number): string {
  if (seconds < 90) return `${Math.max(1, Math.round(seconds))} seconds`;
  return `${Math.ceil(seconds / 60)} minutes`;
}

const CLASS_NAMES: Record<string, string> = {
  latin: 'a Latin letter (a–z, A–Z)',
  digits: 'a digit (0–9)',
  lowercase: 'a lowercase letter',
  uppercase: 'an uppercase letter',
  special: 'a punctuation character such as ! ? - _ #',
};

/** One password policy violation code (`Server.Password.policy_violation`'s `violations`), in words. */
export function violationWords(code: string, policy?: { min_length: number; max_length: number }): string {
  if (code === 'min_length') return `It must be at least ${policy?.min_length ?? 'the minimum number of'} characters long.`;
  if (code === 'max_length') return `It must be at most ${policy?.max_length ?? 32} characters long.`;
  if (code === 'invalid_characters') return 'It may hold only Latin letters, digits and ASCII punctuation (no spaces or accents).';
  if (code === 'same_as_current') return 'It must differ from your current password.';
  const must = /^must_include_(\w+)$/.exec(code);
  if (must?.[1]) return `It must include ${CLASS_NAMES[must[1]] ?? must[1]}.`;
  const cannot = /^cannot_include_(\w+)$/.exec(code);
  if (cannot?.[1]) return `It must not include ${CLASS_NAMES[cannot[1]] ?? cannot[1]}.`;
  return code;
}

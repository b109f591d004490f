import { BillingAuthFault, type FaultCode, type ResultOf } from '@billing-auth/client';
import { alertBox, button, codeField, field, form, h } from '../dom.js';
import { describeFault } from '../messages.js';
import type { Page } from '../main.js';
import type { Enrollment, State } from '../state.js';

type Go = (route: string) => void;

/** Every answer of a login step: Session/login's four, Session/verify_otp's two. */
type LoginAnswer = ResultOf<'Session/login'> | ResultOf<'Session/verify_otp'>;

/** Where a login or code answer leads (README "Logging in with two-factor authentication"). */
function follow(state: State, go: Go, answer: LoginAnswer, login: string): void {
  if (answer.status === 'otp_required' || answer.status === 'otp_enrollment_required') {
    const enrollment = answer.status === 'otp_enrollment_required' ? answer.enrollment : undefined;
    state.pending = { mfaToken: answer.mfa_token, login, enrollment, expiresAt: answer.mfa_expires_at };
    return go(enrollment ? 'enroll' : 'otp');
  }
  state.pending = undefined;
  const next = answer.status === 'password_change_required' ? 'change-password' : 'home';
  if (answer.status !== 'password_change_required') state.password = undefined;
  if ('recovery_codes_left' in answer && typeof answer.recovery_codes_left === 'number') {
    state.notice = `You signed in with a recovery code; ${answer.recovery_codes_left} left. Make new ones under "Two-factor authentication" when they run low.`;
  }
  if ('recovery_codes' in answer && answer.recovery_codes?.length) {
    state.recoveryCodes = { codes: answer.recovery_codes, next };
    return go('recovery-codes');
  }
  go(next);
}

export const signInPage: Page = (state, go) => {
  const alert = alertBox();
  const login = field('User name', { name: 'login', autocomplete: 'username', required: true, autocapitalize: 'none', spellcheck: 'false' });
  const password = field('Password', { name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  return h(
    'section',
    {},
    h('h1', { tabindex: '-1' }, 'Sign in'),
    form(
      { 'aria-label': 'Sign in' },
      async () => {
        alert.clear();
        try {
          const answer = await state.client.Session.login({ login: login.input.value, password: password.input.value, realm: state.config.realm });
          state.password = password.input.value;
          follow(state, go, answer, login.input.value);
        } catch (err) {
          alert.show(describeFault(err));
          password.input.value = '';
          password.input.focus();
        }
      },
      alert,
      login.wrap,
      password.wrap,
      button('Sign in'),
    ),
    h('p', {}, h('a', { href: '#/forgot' }, 'Forgot your password?')),
  );
};

/** A code form for the pending sign-in; `clock_skew` and the other faults are said in words. */
function codeForm(state: State, go: Go, label: string): HTMLFormElement {
  const alert = alertBox();
  const code = codeField();
  return form(
    { 'aria-label': label },
    async () => {
      alert.clear();
      const pending = state.pending;
      if (!pending) return go('sign-in');
      try {
        const answer = await state.client.Session.verify_otp({ mfa_token: pending.mfaToken, otp: code.input.value.replace(/\s/g, '') });
        follow(state, go, answer, pending.login);
      } catch (err) {
        alert.show(describeFault(err));
        code.input.value = '';
        code.input.focus();
        if (isFault(err, 'Server.Session.mfa_token_invalid')) state.pending = undefined;
      }
    },
    alert,
    code.wrap,
    button('Continue'),
  );
}

const isFault = (err: unknown, faultcode: FaultCode): boolean => BillingAuthFault.is(err, faultcode);

function noPending(state: State, go: Go): HTMLElement | undefined {
  if (state.pending) return undefined;
  state.notice = 'Please sign in first.';
  go('sign-in');
  return h('section', {}, h('h1', { tabindex: '-1' }, 'Sign in first'));
}

export const otpPage: Page = (state, go) =>
  noPending(state, go) ??
  h(
    'section',
    {},
    h('h1', { tabindex: '-1' }, 'Enter your code'),
    h('p', {}, `Open your authenticator app and enter the code it shows for ${state.pending?.login ?? 'your login'}.`),
    codeForm(state, go, 'Enter your code'),
    h('p', {}, h('a', { href: '#/recovery' }, 'Lost your phone? Use a recovery code')),
    h('p', {}, h('a', { href: '#/sign-in' }, 'Cancel and sign in again')),
  );

/** The key to add to an authenticator app: its QR code, and its secret as text with a copy button. */
export function keyPanel(enrollment: Enrollment): HTMLElement {
  const status = h('span', { class: 'copied', role: 'status' });
  const secret = h('code', { class: 'secret', id: 'totp-secret' }, enrollment.secret.replace(/(.{4})(?=.)/g, '$1 '));
  const copy = h(
    'button',
    {
      type: 'button',
      'aria-describedby': 'totp-secret',
      onclick: () => {
        navigator.clipboard.writeText(enrollment.secret).then(
          () => (status.textContent = 'Copied.'),
          () => {
            // No clipboard (permissions, an old browser): select the text for Ctrl+C instead.
            const range = document.createRange();
            range.selectNodeContents(secret);
            const sel = getSelection();
            sel?.removeAllRanges();
            sel?.addRange(range);
            status.textContent = 'Press Ctrl+C (or Cmd+C) to copy.';
          },
        );
      },
    },
    'Copy key',
  );
  return h(
    'div',
    { class: 'key' },
    h('ol', {}, h('li', {}, 'Install an authenticator app (Google Authenticator, Microsoft Authenticator, Authy, ...).'), h('li', {}, 'In the app, add an account ("+") and scan this QR code.'), h('li', {}, 'Enter the 6-digit code the app then shows.')),
    h('img', { class: 'qr', src: enrollment.qr_code_png, alt: 'QR code of your new key, for your authenticator app', width: '200', height: '200' }),
    h('p', {}, "Can't scan? Enter this key in the app by hand:"),
    h('p', { class: 'secret-row' }, secret, ' ', copy, ' ', status),
  );
}

export const enrollPage: Page = (state, go) => {
  const stop = noPending(state, go);
  if (stop) return stop;
  const enrollment = state.pending?.enrollment;
  if (!enrollment) {
    go('otp');
    return h('section', {});
  }
  return h(
    'section',
    {},
    h('h1', { tabindex: '-1' }, 'Set up two-factor authentication'),
    h('p', {}, 'Your login is protected by a second step: a code from an app on your phone, which changes every 30 seconds. This is needed once; later sign-ins just ask for the code.'),
    keyPanel(enrollment),
    codeForm(state, go, 'Confirm your authenticator app'),
  );
};

export const recoveryPage: Page = (state, go) => {
  const stop = noPending(state, go);
  if (stop) return stop;
  const alert = alertBox();
  const code = field('Recovery code', { name: 'recovery_code', autocomplete: 'off', required: true, autocapitalize: 'none', spellcheck: 'false' }, 'One of the codes you saved when you set up two-factor authentication. Each works once.');
  return h(
    'section',
    {},
    h('h1', { tabindex: '-1' }, 'Use a recovery code'),
    form(
      { 'aria-label': 'Use a recovery code' },
      async () => {
        alert.clear();
        const pending = state.pending;
        if (!pending) return go('sign-in');
        try {
          const answer = await state.client.Session.verify_otp({ mfa_token: pending.mfaToken, recovery_code: code.input.value });
          follow(state, go, answer, pending.login);
        } catch (err) {
          alert.show(isFault(err, 'Server.Session.otp_invalid') ? 'That recovery code is not right, or it was already used.' : describeFault(err));
          if (isFault(err, 'Server.Session.mfa_token_invalid')) state.pending = undefined;
        }
      },
      alert,
      code.wrap,
      button('Continue'),
    ),
    h('p', {}, h('a', { href: '#/otp' }, 'Back to the code from my app')),
  );
};

/** Recovery codes, shown only this once (the service keeps only their hashes). */
export function recoveryCodeList(codes: string[]): HTMLElement {
  return h('ol', { class: 'codes', 'aria-label': 'Recovery codes' }, ...codes.map((c) => h('li', {}, h('code', {}, c))));
}

export const recoveryCodesPage: Page = (state, go) => {
  const shown = state.recoveryCodes;
  if (!shown) {
    go(state.client.session.get() ? 'home' : 'sign-in');
    return h('section', {});
  }
  return h(
    'section',
    {},
    h('h1', { tabindex: '-1' }, 'Your recovery codes'),
    h('p', {}, 'Two-factor authentication is on. If you lose your phone, each of these codes signs you in once instead of a code from the app. Save them somewhere safe now: they are shown only this once.'),
    recoveryCodeList(shown.codes),
    h(
      'button',
      {
        type: 'button',
        onclick: () => {
          state.recoveryCodes = undefined;
          go(shown.next);
        },
      },
      'I saved them, continue',
    ),
  );
};

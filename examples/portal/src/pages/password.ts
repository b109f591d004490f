import { BillingAuthFault } from '@billing-auth/client';
import { alertBox, button, field, form, h } from '../dom.js';
import { describeFault, violationWords } from '../messages.js';
import type { Page } from '../main.js';
import { policyChecklist, violations, type PasswordPolicy } from '../policy.js';
import type { State } from '../state.js';

/**
 * The live policy (Session/get_password_policy: with the session's token,
 * the caller's own rules, which its customer class may override) and a
 * new-password pair checked as the user types.
 */
async function newPasswordFields(state: State) {
  const policy: PasswordPolicy = await state.client.Session.get_password_policy({ realm: state.config.realm });
  const checklist = policyChecklist(policy);
  const next = field('New password', { name: 'new_password', type: 'password', autocomplete: 'new-password', required: true, maxlength: String(policy.max_length) });
  const again = field('New password again', { name: 'new_password_again', type: 'password', autocomplete: 'new-password', required: true });
  next.input.addEventListener('input', () => checklist.update(next.input.value));
  /** Every problem at once: the rules the password breaks and a mismatch. */
  const problems = (): string[] => [...violations(policy, next.input.value).map((v) => violationWords(v, policy)), ...(next.input.value !== again.input.value ? ['The two new passwords differ.'] : [])];
  return { policy, checklist, next, again, problems };
}

function listOf(lines: string[]): HTMLElement {
  return h('ul', { class: 'problems' }, ...lines.map((l) => h('li', {}, l)));
}

/** `Server.Password.policy_violation` lists every broken rule: all of them are shown. */
function showFault(alert: ReturnType<typeof alertBox>, err: unknown, policy: PasswordPolicy): void {
  if (BillingAuthFault.is(err, 'Server.Password.policy_violation')) {
    const list = err.details.violations.map((v) => violationWords(v, policy));
    alert.show(h('p', {}, 'The new password does not meet the rules:'), listOf(list));
  } else {
    alert.show(describeFault(err));
  }
}

export const changePasswordPage: Page = async (state, go) => {
  const ping = await state.client.Session.ping({});
  const alert = alertBox();
  const fields = await newPasswordFields(state);
  const knownOld = state.password;
  const old = field('Current password', { name: 'old_password', type: 'password', autocomplete: 'current-password', required: true });
  return h(
    'section',
    {},
    h('h1', { tabindex: '-1' }, 'Change your password'),
    ping.restricted ? h('p', { class: 'notice' }, 'Your password must be changed before you can go on.') : null,
    form(
      { 'aria-label': 'Change your password' },
      async () => {
        alert.clear();
        const problems = fields.problems();
        if (problems.length) return alert.show(h('p', {}, 'Please fix these first:'), listOf(problems));
        try {
          const answer = await state.client.Session.change_password({ old_password: knownOld && ping.restricted ? knownOld : old.input.value, new_password: fields.next.input.value });
          state.password = undefined;
          state.notice = `Your password was changed.${answer.sessions_ended ? ` ${answer.sessions_ended} other device(s) were signed out.` : ''}`;
          go('home');
        } catch (err) {
          showFault(alert, err, fields.policy);
        }
      },
      alert,
      // Right after signing in with it, the password just typed is used (kept in memory only).
      knownOld && ping.restricted ? null : old.wrap,
      fields.next.wrap,
      fields.checklist.el,
      fields.again.wrap,
      button('Change password'),
    ),
  );
};

export const forgotPage: Page = (state) => {
  const alert = alertBox();
  const login = field('User name', { name: 'login', autocomplete: 'username', required: true, autocapitalize: 'none', spellcheck: 'false' });
  const section = h('section', {}, h('h1', { tabindex: '-1' }, 'Forgot your password'));
  section.append(
    h('p', {}, 'Enter your user name. We will mail you a link to choose a new password.'),
    form(
      { 'aria-label': 'Forgot your password' },
      async () => {
        alert.clear();
        try {
          await state.client.Session.request_password_reset({ realm: state.config.realm, login: login.input.value });
          // The service answers the same whether or not the login exists; so does the portal.
          section.replaceChildren(
            h('h1', { tabindex: '-1' }, 'Check your mail'),
            h('p', { role: 'status' }, 'If that login exists and has an email address, a link to choose a new password is on its way. It works once, for a limited time. Nothing changes until you use it.'),
            h('p', {}, h('a', { href: '#/sign-in' }, 'Back to sign in')),
          );
          section.querySelector('h1')?.focus();
        } catch (err) {
          alert.show(describeFault(err));
        }
      },
      alert,
      login.wrap,
      button('Send the link'),
    ),
    h('p', {}, h('a', { href: '#/sign-in' }, 'Back to sign in')),
  );
  return section;
};

export const resetPage: Page = async (state, go, arg) => {
  // The token came in the fragment; take it out of the address bar and history at once.
  let token = arg ? decodeURIComponent(arg) : '';
  if (arg) history.replaceState(null, '', '#/reset');
  const alert = alertBox();
  const fields = await newPasswordFields(state);
  const pasted = field('Reset code from the mail', { name: 'token', autocomplete: 'off', required: true, spellcheck: 'false' });
  return h(
    'section',
    {},
    h('h1', { tabindex: '-1' }, 'Choose a new password'),
    form(
      { 'aria-label': 'Choose a new password' },
      async () => {
        alert.clear();
        token = token || pasted.input.value.trim();
        const problems = fields.problems();
        if (problems.length) return alert.show(h('p', {}, 'Please fix these first:'), listOf(problems));
        try {
          await state.client.Session.reset_password({ token, new_password: fields.next.input.value });
          // A reset ends every session of the login, this browser's included.
          state.client.session.clear();
          state.notice = 'Your password was changed. Sign in with the new one.';
          go('sign-in');
        } catch (err) {
          showFault(alert, err, fields.policy);
        }
      },
      alert,
      token ? null : pasted.wrap,
      fields.next.wrap,
      fields.checklist.el,
      fields.again.wrap,
      button('Set the new password'),
    ),
  );
};

import { alertBox, button, codeField, form, h, when } from '../dom.js';
import { describeFault } from '../messages.js';
import type { Page } from '../main.js';
import type { State } from '../state.js';
import { keyPanel } from './sign-in.js';

/** Each realm's own-record method (`get_<entity>_info` with `{}` reads the caller's record). */
const INFO: Record<string, [method: string, key: string]> = {
  admin: ['User/get_user_info', 'user_info'],
  customer: ['Customer/get_customer_info', 'customer_info'],
  customer_individual: ['CustomerIndividual/get_customer_individual_info', 'customer_individual_info'],
  account: ['Account/get_account_info', 'account_info'],
  representative: ['Representative/get_representative_info', 'representative_info'],
  vendor: ['Vendor/get_vendor_info', 'vendor_info'],
};

/** The session's `amr` (RFC 8176 names; `rcode` is the service's recovery code, `mfa` says "more than one factor"). */
const AMR: Record<string, string> = { pwd: 'password', otp: 'authenticator code', rcode: 'recovery code', imp: 'opened by an administrator' };

/**
 * Who the session is; undefined (after sending the page to the password change) for a restricted
 * session, which may call nothing else until the password is changed.
 */
async function whoAmI(state: State, go: (r: string) => void) {
  const ping = await state.client.Session.ping({});
  if (!ping.restricted) return ping;
  go('change-password');
  return undefined;
}

const elsewhere = () => h('section', {});

export const homePage: Page = async (state, go) => {
  const ping = await whoAmI(state, go);
  if (!ping) return elsewhere();
  const [method, key] = INFO[ping.realm] ?? INFO.account!;
  const info = ((await state.client.call(method as never, {} as never)) as Record<string, Record<string, unknown>>)[key] ?? {};
  const status = await state.client.TwoFactor.get_status({});
  const row = (label: string, value: unknown) => [h('dt', {}, label), h('dd', {}, value === null || value === undefined || value === '' ? '–' : String(value))];
  return h(
    'section',
    {},
    h('h1', { tabindex: '-1' }, `Welcome, ${String(info.name || info.login || '')}`),
    h(
      'dl',
      { class: 'info', 'aria-label': 'Your account' },
      ...row('User name', info.login),
      ...row('Name', info.name),
      ...row('Email', info.email),
      ...row('Account created', when(info.created_at as string | undefined)),
      ...row('Two-factor authentication', status.enrolled ? `on since ${when(status.enrolled_at)}` : status.required ? 'required (set up at your next sign-in)' : 'off'),
      ...row('Recovery codes left', status.enrolled ? status.recovery_codes_left : undefined),
      ...row('Signed in with', ping.amr.flatMap((a) => (AMR[a] ? [AMR[a]] : [])).join(' and ')),
      ...row('This session ends at the latest', when(ping.session_expires_at)),
    ),
  );
};

/** A short name for a browser's User-Agent, enough to tell one's devices apart. */
function deviceName(ua: string | null): string {
  if (!ua) return 'Unknown device';
  const browser = /Edg\//.test(ua) ? 'Edge' : /Firefox\//.test(ua) ? 'Firefox' : /Chrom(e|ium)\//.test(ua) ? 'Chrome' : /Safari\//.test(ua) ? 'Safari' : ua.split(/[ /]/)[0] || 'Browser';
  const os = /Android/.test(ua) ? 'Android' : /iPhone|iPad/.test(ua) ? 'iOS' : /Windows/.test(ua) ? 'Windows' : /Mac OS X/.test(ua) ? 'macOS' : /Linux/.test(ua) ? 'Linux' : '';
  return os ? `${browser} on ${os}` : browser;
}

export const sessionsPage: Page = async (state, go) => {
  if (!(await whoAmI(state, go))) return elsewhere();
  const alert = alertBox();
  const list = await state.client.Session.get_session_list({});
  const rows = list.session_list.map((s) => {
    const name = deviceName(s.user_agent);
    const signOut = h(
      'button',
      {
        type: 'button',
        'aria-label': s.current ? 'Sign out this device (the one you are using)' : `Sign out ${name}, signed in ${when(s.created_at)}`,
        onclick: async () => {
          alert.clear();
          try {
            if (s.current) {
              await state.client.Session.logout({});
              state.client.session.clear();
              state.notice = 'You are signed out.';
              return go('sign-in');
            }
            await state.client.Session.revoke_session({ session_id: s.session_id });
            state.notice = `${name} was signed out.`;
            go('sessions');
          } catch (err) {
            alert.show(describeFault(err));
          }
        },
      },
      'Sign out this device',
    );
    return h(
      'li',
      { class: s.current ? 'session current' : 'session', 'data-session': s.session_id },
      h('strong', {}, name),
      s.current ? h('span', { class: 'badge' }, ' (this device)') : null,
      s.impersonated_by !== undefined ? h('span', { class: 'badge' }, ' (opened by an administrator)') : null,
      h('br'),
      `Signed in ${when(s.created_at)} from ${s.ip ?? 'an unknown address'}; last active ${when(s.last_seen_at)}`,
      h('br'),
      signOut,
    );
  });
  return h('section', {}, h('h1', { tabindex: '-1' }, 'Signed-in devices'), h('p', {}, `You are signed in on ${list.total} device(s).`), alert, h('ul', { class: 'sessions', 'aria-label': 'Sessions' }, ...rows));
};

/** 2FA self-service: turn on (scan, confirm), turn off, new recovery codes; each proven with a current code. */
export const securityPage: Page = async (state, go) => {
  if (!(await whoAmI(state, go))) return elsewhere();
  const status = await state.client.TwoFactor.get_status({});
  const section = h('section', {}, h('h1', { tabindex: '-1' }, 'Two-factor authentication'));
  const alert = alertBox();

  const withCode = (label: string, action: (otp: string) => Promise<void>, danger = false) => {
    const code = codeField();
    return form(
      { 'aria-label': label, class: danger ? 'danger' : '' },
      async () => {
        alert.clear();
        try {
          await action(code.input.value.replace(/\s/g, ''));
        } catch (err) {
          alert.show(describeFault(err));
          code.input.value = '';
        }
      },
      h('h2', {}, label),
      code.wrap,
      button(label),
    );
  };

  if (!status.enrolled) {
    section.append(
      h('p', {}, status.required ? 'Two-factor authentication is required for your login; you will set it up at your next sign-in, or now:' : 'Two-factor authentication is off. Turn it on to ask for a code from your phone at every sign-in.'),
      alert,
      form(
        { 'aria-label': 'Turn on two-factor authentication' },
        async () => {
          alert.clear();
          try {
            const { enrollment } = await state.client.TwoFactor.start_enrollment({});
            section.replaceChildren(
              h('h1', { tabindex: '-1' }, 'Set up two-factor authentication'),
              keyPanel(enrollment),
              alert,
              withCode('Confirm', async (otp) => {
                const { recovery_codes } = await state.client.TwoFactor.confirm_enrollment({ otp });
                state.recoveryCodes = { codes: recovery_codes, next: 'security' };
                go('recovery-codes');
              }),
            );
            section.querySelector('h1')?.focus();
          } catch (err) {
            alert.show(describeFault(err));
          }
        },
        button('Turn on two-factor authentication'),
      ),
    );
    return section;
  }

  section.append(
    h('p', {}, `Two-factor authentication is on since ${when(status.enrolled_at)}. Recovery codes left: ${status.recovery_codes_left}.`),
    alert,
    withCode('Make new recovery codes', async (otp) => {
      const { recovery_codes } = await state.client.TwoFactor.regenerate_recovery_codes({ otp });
      state.recoveryCodes = { codes: recovery_codes, next: 'security' };
      go('recovery-codes');
    }),
    status.required
      ? h('p', {}, 'Your login requires two-factor authentication, so it cannot be turned off. If you lost your phone, sign in with a recovery code, or ask support to reset your key.')
      : withCode(
          'Turn off two-factor authentication',
          async (otp) => {
            await state.client.TwoFactor.disable({ otp });
            state.notice = 'Two-factor authentication is off.';
            go('home');
          },
          true,
        ),
  );
  return section;
};


import { BillingAuthFault } from '@billing-auth/client';
import { loadPortalConfig } from './config.js';
import { h } from './dom.js';
import { homePage, sessionsPage, securityPage } from './pages/account.js';
import { changePasswordPage, forgotPage, resetPage } from './pages/password.js';
import { enrollPage, otpPage, recoveryCodesPage, recoveryPage, signInPage } from './pages/sign-in.js';
import { createState, type State } from './state.js';

/**
 * A hash router: every page is `#/<name>` (the reset link carries its token
 * as `#/reset/<token>`, a fragment, which browsers never send to a server
 * or in a Referer).
 */
export type Page = (state: State, go: (route: string) => void, arg: string) => Promise<HTMLElement> | HTMLElement;

const PAGES: Record<string, { page: Page; session?: boolean; title: string }> = {
  'sign-in': { page: signInPage, title: 'Sign in' },
  otp: { page: otpPage, title: 'Enter your code' },
  enroll: { page: enrollPage, title: 'Set up two-factor authentication' },
  recovery: { page: recoveryPage, title: 'Use a recovery code' },
  'recovery-codes': { page: recoveryCodesPage, title: 'Your recovery codes' },
  'change-password': { page: changePasswordPage, session: true, title: 'Change your password' },
  forgot: { page: forgotPage, title: 'Forgot your password' },
  reset: { page: resetPage, title: 'Choose a new password' },
  home: { page: homePage, session: true, title: 'Your account' },
  sessions: { page: sessionsPage, session: true, title: 'Signed-in devices' },
  security: { page: securityPage, session: true, title: 'Two-factor authentication' },
};

const SESSION_OVER = ['Server.Session.check_auth.auth_failed', 'Client.Session.check_auth.failed_to_process_access_token', 'Server.Session.refresh_token_invalid'] as const;

async function start(): Promise<void> {
  const root = document.getElementById('app');
  if (!root) throw new Error('no #app element');
  const config = await loadPortalConfig();
  document.title = config.brand;

  const state = createState(config, (reason) => {
    if (reason === 'logged_out') return; // signing out says so itself
    // The client found the session over (revoked, expired, signed out elsewhere).
    state.notice = 'Your session has ended. Please sign in again.';
    if (PAGES[route().name]?.session) go('sign-in');
  });

  const go = (to: string) => {
    if (location.hash === `#/${to}`) void render();
    else location.hash = `#/${to}`;
  };

  const signOut = async () => {
    try {
      await state.client.Session.logout({});
    } catch {
      // Already over, or unreachable: the tokens are dropped below either way.
    }
    state.client.session.clear();
    state.notice = 'You are signed out.';
    go('sign-in');
  };

  const header = (signedIn: boolean) =>
    h(
      'header',
      { class: 'top' },
      h('span', { class: 'brand' }, config.brand),
      signedIn
        ? h(
            'nav',
            { 'aria-label': 'Account' },
            h('a', { href: '#/home' }, 'Account'),
            h('a', { href: '#/sessions' }, 'Devices'),
            h('a', { href: '#/security' }, 'Two-factor authentication'),
            h('a', { href: '#/change-password' }, 'Password'),
            h('button', { type: 'button', class: 'link', onclick: () => void signOut() }, 'Sign out'),
          )
        : null,
    );

  async function render(): Promise<void> {
    const { name, arg } = route();
    const entry = PAGES[name];
    if (!entry) return go(state.client.session.get() ? 'home' : 'sign-in');
    const signedIn = Boolean(state.client.session.get());
    if (entry.session && !signedIn) return go('sign-in');
    let content: HTMLElement;
    try {
      content = await entry.page(state, go, arg);
    } catch (err) {
      if (BillingAuthFault.is(err, ...SESSION_OVER) && entry.session) {
        // The session ended under the page (revoked on another device, timed out): back to
        // sign-in, unless the client's onSessionEnded has already sent the page there.
        state.client.session.clear();
        if (route().name !== name) return;
        state.notice = 'Your session has ended. Please sign in again.';
        return go('sign-in');
      }
      content = h('section', {}, h('h1', { tabindex: '-1' }, 'Something went wrong'), h('p', { role: 'alert' }, String((err as Error).message ?? err)));
    }
    if (route().name !== name) return; // the page moved on while this one loaded
    const notice = state.notice ? h('p', { class: 'notice', role: 'status' }, state.notice) : null;
    state.notice = undefined;
    document.title = `${entry.title} · ${config.brand}`;
    root!.replaceChildren(header(Boolean(state.client.session.get()) && Boolean(entry.session)), h('main', {}, notice, content));
    // Move focus to the new page's heading so screen readers announce it.
    root!.querySelector<HTMLElement>('h1')?.focus();
  }

  window.addEventListener('hashchange', () => void render());
  await render();
}

function route(): { name: string; arg: string } {
  const [name = '', ...rest] = location.hash.replace(/^#\/?/, '').split('/');
  return { name, arg: rest.join('/') };
}

start().catch((err: unknown) => {
  document.getElementById('app')?.replaceChildren(h('p', { role: 'alert' }, `The portal could not start: ${String((err as Error).message ?? err)}`));
});

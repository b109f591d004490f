import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Secret, TOTP } from 'otpauth';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { buildPortal } from '../../examples/portal/build.js';
import { startPortal, type RunningPortal } from '../../examples/portal/server.js';
import { buildTestApp, type TestApp } from '../helpers/app.js';
import { decodeQrDataUrl } from '../helpers/qr.js';
import { call, loginRoot } from '../helpers/rpc.js';
import { TestSmtp } from '../helpers/smtp.js';
import { listening } from '../helpers/wire.js';

/**
 * The example portal (examples/portal) driven in headless Chromium against
 * the real service on a port, from another origin (CORS_ORIGINS), with a
 * real SMTP server for the reset mail. The portal does not care about the
 * storage engine: SQLite only. The service's clock is the test's: codes are
 * computed for it, and it moves 30 s before each code so that none is a replay.
 * Each test keeps a screenshot of its last page in test-artifacts/portal/.
 */
const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join('test-artifacts', 'portal');
const FIREFOX_UA = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0';

const ALICE = { login: 'alice', password: 'Alice-pass-1', email: 'alice@acme.example' };
const BOB = { login: 'bob', password: 'Welcome1', email: 'bob@globex.example', changed: 'Bob-new-pass-2', reset: 'Bob-reset-pass-3' };

describe('the example portal in headless Chromium', () => {
  let browser: Browser;
  let profile: string;
  let outdir: string;
  let portal: RunningPortal;
  let api = '';
  let t: TestApp;
  const smtp = new TestSmtp();
  /** Alice's key and recovery codes, read from the pages of her first login. */
  let aliceSecret = '';
  let aliceRecoveryCodes: string[] = [];
  let aliceId = 0;
  let rootToken = '';

  const code = (secret: string, at: number) => new TOTP({ secret: Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: 30 }).generate({ timestamp: at });
  /** The code of the next 30-second step of the service's clock (a used step cannot be used again). */
  const nextCode = (secret: string) => {
    t.clock.advance(30_000);
    return code(secret, t.clock.now());
  };

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    outdir = mkdtempSync(join(tmpdir(), 'billing-auth-portal-'));
    profile = mkdtempSync(join(tmpdir(), 'billing-auth-chromium-'));
    await buildPortal(outdir);
    await smtp.start();
    portal = await startPortal({ apiBaseUrl: () => api, realm: 'account', brand: 'Acme self-care', dist: outdir });
    t = await buildTestApp('sqlite', {
      CORS_ORIGINS: portal.origin,
      SMTP_URL: smtp.url,
      PASSWORD_RESET_URL: `${portal.origin}/#/reset/{{token}}`,
    });
    api = (await listening(t.app)).base;

    const root = await loginRoot(t.app);
    rootToken = root;
    const strict = await call<{ i_customer_class: number }>(t.app, 'CustomerClass/add_customer_class', { name: 'Gold', two_factor_auth: true }, root);
    const plain = await call<{ i_customer_class: number }>(t.app, 'CustomerClass/add_customer_class', { name: 'Basic', two_factor_auth: false }, root);
    const acme = await call<{ i_customer: number }>(t.app, 'Customer/add_customer', { login: 'acme', i_customer_class: strict.i_customer_class }, root);
    const globex = await call<{ i_customer: number }>(t.app, 'Customer/add_customer', { login: 'globex', i_customer_class: plain.i_customer_class }, root);
    // Alice's class requires 2FA and her password is her own; Bob's password was set by an admin (must change) and 2FA is up to him.
    aliceId = (await call<{ i_account: number }>(t.app, 'Account/add_account', { login: ALICE.login, i_customer: acme.i_customer, email: ALICE.email, password: ALICE.password, password_must_change: false }, root)).i_account;
    await call(t.app, 'Account/add_account', { login: BOB.login, i_customer: globex.i_customer, email: BOB.email, password: BOB.password }, root);

    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });

  after(async () => {
    await browser?.close();
    await t?.close();
    await portal?.close();
    await smtp.stop();
    for (const dir of [outdir, profile]) if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** A fresh browser profile (its own localStorage: another device), a page, and its screenshot at the end whatever happens. */
  async function inBrowser(name: string, fn: (page: Page, context: BrowserContext) => Promise<void>, userAgent?: string): Promise<void> {
    const context = await browser.newContext({ userAgent });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(String(err)));
    try {
      await fn(page, context);
      assert.deepEqual(errors, [], 'no script error on the page');
    } finally {
      await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true }).catch(() => undefined);
      await context.close();
    }
  }

  /** Waits for a page by its heading, and checks that every field on it has a label. */
  const heading = async (page: Page, name: string) => {
    await page.getByRole('heading', { level: 1, name }).waitFor();
    const unlabelled = (await page.evaluate(`[...document.querySelectorAll('input')].filter((i) => i.labels.length === 0).map((i) => i.name)`)) as string[];
    assert.deepEqual(unlabelled, [], `inputs without a label on "${name}"`);
  };
  const alertText = async (page: Page) => {
    const alert = page.getByRole('alert');
    await alert.waitFor();
    return (await alert.innerText()).trim();
  };

  async function signIn(page: Page, login: string, password: string): Promise<void> {
    await page.goto(`${portal.origin}/#/sign-in`);
    await heading(page, 'Sign in');
    await page.getByLabel('User name').fill(login);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  }

  async function enterCode(page: Page, otp: string, button = 'Continue'): Promise<void> {
    await page.getByLabel('Code from your authenticator app').fill(otp);
    await page.getByRole('button', { name: button, exact: true }).click();
  }

  async function signOut(page: Page): Promise<void> {
    await page.getByRole('button', { name: 'Sign out', exact: true }).click();
    await heading(page, 'Sign in');
    assert.match(await page.getByRole('status').innerText(), /signed out/);
  }

  test('first login: the QR code and the key with a copy button, the first code, the recovery codes, then the account page', async () => {
    await inBrowser('1-first-login-enrollment', async (page, context) => {
      await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: portal.origin });
      await signIn(page, ALICE.login, ALICE.password);
      await heading(page, 'Set up two-factor authentication');

      // The key as text (grouped by 4 for reading), and the same key in the QR code.
      aliceSecret = (await page.locator('#totp-secret').innerText()).replace(/\s/g, '');
      assert.match(aliceSecret, /^[A-Z2-7]{32}$/);
      const qr = page.getByRole('img', { name: /QR code/ });
      const uri = decodeQrDataUrl(String(await qr.getAttribute('src')));
      assert.ok(uri !== undefined && uri.startsWith('otpauth://totp/'), `the QR code holds an otpauth URI: ${uri}`);
      assert.equal(new URL(uri).searchParams.get('secret'), aliceSecret);

      await page.getByRole('button', { name: 'Copy key' }).click();
      await page.getByText('Copied.').waitFor();
      await page.screenshot({ path: join(ARTIFACTS, '1-enrollment-page.png'), fullPage: true });
      assert.equal(await page.evaluate('navigator.clipboard.readText()'), aliceSecret);

      await enterCode(page, nextCode(aliceSecret));
      await heading(page, 'Your recovery codes');
      aliceRecoveryCodes = await page.getByRole('list', { name: 'Recovery codes' }).getByRole('listitem').allInnerTexts();
      assert.equal(aliceRecoveryCodes.length, 10);
      await page.getByRole('button', { name: 'I saved them, continue' }).click();

      await heading(page, 'Welcome, alice');
      const info = await page.getByRole('definition').allInnerTexts();
      assert.ok(info.includes(ALICE.email), info.join('|'));
      assert.ok(info.some((v) => v.startsWith('on since')), '2FA is on');
      // Only the client's tokens are kept in the browser: no key, code or password.
      const stored = String(await page.evaluate('JSON.stringify({ ...localStorage })'));
      assert.ok(!stored.includes(aliceSecret) && !stored.includes(ALICE.password) && !stored.includes(aliceRecoveryCodes[0]!), 'no secret in localStorage');
      await signOut(page);
    });
    // Seed 000: a mail tells the owner that 2FA was activated.
    await t.app.notifications.runOnce();
    assert.ok(smtp.mails.some((m) => m.to && JSON.stringify(m.to).includes(ALICE.email)), smtp.subjects().join('|'));
  });

  test('a later login asks for the code', async () => {
    await inBrowser('2-login-with-code', async (page) => {
      await signIn(page, ALICE.login, ALICE.password);
      await heading(page, 'Enter your code');
      await enterCode(page, nextCode(aliceSecret));
      await heading(page, 'Welcome, alice');
      await signOut(page);
    });
  });

  test('a wrong code says so, and a code from a phone whose clock is off says that in words', async () => {
    await inBrowser('3-wrong-code-clock-skew', async (page) => {
      await signIn(page, ALICE.login, ALICE.password);
      await heading(page, 'Enter your code');

      // A code of no step the service accepts now (its window is one step either side).
      const accepted = [-1, 0, 1, 2].map((step) => code(aliceSecret, t.clock.now() + step * 30_000));
      await enterCode(page, ['000000', '000001', '000002', '000003', '000004'].find((c) => !accepted.includes(c))!);
      assert.match(await alertText(page), /That code is not right/);

      // Three steps (90 s) ahead: a real code of a phone whose clock runs fast.
      await enterCode(page, code(aliceSecret, t.clock.now() + 3 * 30_000));
      const hint = await alertText(page);
      assert.match(hint, /your phone's clock is off/);
      assert.match(hint, /update automatically/);
      await page.screenshot({ path: join(ARTIFACTS, '3-clock-skew-hint.png'), fullPage: true });

      await enterCode(page, nextCode(aliceSecret));
      await heading(page, 'Welcome, alice');
    });
  });

  test('a recovery code signs in instead of a code, once', async () => {
    await inBrowser('4-recovery-code', async (page) => {
      await signIn(page, ALICE.login, ALICE.password);
      await heading(page, 'Enter your code');
      await page.getByRole('link', { name: /Use a recovery code/ }).click();
      await heading(page, 'Use a recovery code');
      await page.getByLabel('Recovery code', { exact: true }).fill(aliceRecoveryCodes[0]!);
      await page.getByRole('button', { name: 'Continue' }).click();
      await heading(page, 'Welcome, alice');
      assert.match(await page.getByRole('status').innerText(), /recovery code; 9 left/);
      assert.ok((await page.getByRole('definition').allInnerTexts()).includes('password and recovery code'));
      await signOut(page);

      // The same code again is refused.
      await signIn(page, ALICE.login, ALICE.password);
      await page.getByRole('link', { name: /Use a recovery code/ }).click();
      await page.getByLabel('Recovery code', { exact: true }).fill(aliceRecoveryCodes[0]!);
      await page.getByRole('button', { name: 'Continue' }).click();
      assert.match(await alertText(page), /not right, or it was already used/);
    });
  });

  test('a password set by an admin must be changed first: the live policy, and every broken rule at once', async () => {
    await inBrowser('5-forced-password-change', async (page) => {
      await signIn(page, BOB.login, BOB.password);
      await heading(page, 'Change your password');
      assert.match(await page.locator('main').innerText(), /must be changed before you can go on/);
      // The rules come from Session/get_password_policy (defaults: 6 characters, a letter and a digit).
      const rules = page.getByRole('list', { name: 'Password rules' });
      assert.match(await rules.innerText(), /at least 6 characters/);
      assert.match(await rules.innerText(), /include a digit/);

      await page.getByLabel('New password', { exact: true }).fill('abc');
      await page.getByLabel('New password again').fill('abd');
      await page.getByRole('button', { name: 'Change password' }).click();
      const problems = await alertText(page);
      for (const expected of [/at least 6 characters/, /include a digit/, /two new passwords differ/]) assert.match(problems, expected);
      assert.equal(await page.getByRole('alert').getByRole('listitem').count(), 3, problems);

      // A password the page cannot judge: the service's violations are shown.
      await page.getByLabel('New password', { exact: true }).fill(BOB.password);
      await page.getByLabel('New password again').fill(BOB.password);
      await page.getByRole('button', { name: 'Change password' }).click();
      assert.match(await alertText(page), /must differ from your current password/);

      await page.getByLabel('New password', { exact: true }).fill(BOB.changed);
      await page.getByLabel('New password again').fill(BOB.changed);
      await page.getByRole('button', { name: 'Change password' }).click();
      await heading(page, 'Welcome, bob');
      assert.match(await page.getByRole('status').innerText(), /password was changed/);
      await signOut(page);
    });
  });

  test('"sign out this device" ends another device\'s session, which then finds itself signed out', async () => {
    await inBrowser(
      '6-revoke-other-device-phone',
      async (phone) => {
        await signIn(phone, BOB.login, BOB.changed);
        await heading(phone, 'Welcome, bob');
        await inBrowser('6-revoke-other-device', async (page) => {
          await signIn(page, BOB.login, BOB.changed);
          await heading(page, 'Welcome, bob');
          await page.getByRole('link', { name: 'Devices' }).click();
          await heading(page, 'Signed-in devices');
          const other = page.getByRole('listitem').filter({ hasText: 'Firefox on Linux' });
          assert.equal(await other.count(), 1);
          assert.equal(await page.getByRole('listitem').filter({ hasText: '(this device)' }).count(), 1);
          await other.getByRole('button', { name: /^Sign out Firefox on Linux/ }).click();
          await page.getByText('Firefox on Linux was signed out.').waitFor();
          assert.equal(await page.getByRole('listitem').filter({ hasText: 'Firefox on Linux' }).count(), 0);
        });
        // The phone's next call finds its session over and goes back to sign-in.
        await phone.getByRole('link', { name: 'Devices' }).click();
        await heading(phone, 'Sign in');
        assert.match(await phone.getByRole('status').innerText(), /session has ended/);
      },
      FIREFOX_UA,
    );
  });

  test('2FA self-service: turn it on, make new recovery codes, turn it off', async () => {
    await inBrowser('7-two-factor-self-service', async (page) => {
      await signIn(page, BOB.login, BOB.changed);
      await heading(page, 'Welcome, bob');
      await page.getByRole('link', { name: 'Two-factor authentication' }).click();
      await heading(page, 'Two-factor authentication');
      await page.getByRole('button', { name: 'Turn on two-factor authentication' }).click();
      await heading(page, 'Set up two-factor authentication');
      const secret = (await page.locator('#totp-secret').innerText()).replace(/\s/g, '');
      await enterCode(page, nextCode(secret), 'Confirm');
      await heading(page, 'Your recovery codes');
      const first = await page.getByRole('list', { name: 'Recovery codes' }).getByRole('listitem').allInnerTexts();
      await page.getByRole('button', { name: 'I saved them, continue' }).click();

      await heading(page, 'Two-factor authentication');
      assert.match(await page.locator('main').innerText(), /on since .*Recovery codes left: 10/s);
      await page.getByRole('form', { name: 'Make new recovery codes' }).getByLabel('Code from your authenticator app').fill(nextCode(secret));
      await page.getByRole('button', { name: 'Make new recovery codes' }).click();
      await heading(page, 'Your recovery codes');
      const second = await page.getByRole('list', { name: 'Recovery codes' }).getByRole('listitem').allInnerTexts();
      assert.equal(second.length, 10);
      assert.ok(!second.some((c) => first.includes(c)), 'new codes');
      await page.getByRole('button', { name: 'I saved them, continue' }).click();

      await heading(page, 'Two-factor authentication');
      const off = page.getByRole('form', { name: 'Turn off two-factor authentication' });
      await off.getByLabel('Code from your authenticator app').fill(nextCode(secret));
      await off.getByRole('button', { name: 'Turn off two-factor authentication' }).click();
      await heading(page, 'Welcome, bob');
      assert.match(await page.getByRole('status').innerText(), /Two-factor authentication is off/);
      const info = await page.getByRole('definition').allInnerTexts();
      assert.ok(info.includes('off'), info.join('|'));
    });
  });

  test('forgotten password: the mail (real SMTP) links to the portal\'s reset page, and the new password signs in', async () => {
    await inBrowser('8-password-reset', async (page) => {
      await page.goto(`${portal.origin}/#/sign-in`);
      await page.getByRole('link', { name: 'Forgot your password?' }).click();
      await heading(page, 'Forgot your password');
      await page.getByLabel('User name').fill(BOB.login);
      await page.getByRole('button', { name: 'Send the link' }).click();
      await heading(page, 'Check your mail');

      const before = smtp.mails.length;
      await t.app.notifications.runOnce();
      const mail = smtp.mails.slice(before).find((m) => /Reset the password/.test(m.subject ?? ''));
      assert.ok(mail, smtp.subjects().join('|'));
      const link = /http:\/\/\S+\/#\/reset\/\S+/.exec(mail.text ?? '')?.[0];
      assert.ok(link !== undefined && link.startsWith(`${portal.origin}/#/reset/`), mail.text);

      await page.goto(link);
      await heading(page, 'Choose a new password');
      // The token leaves the address bar at once.
      assert.equal(new URL(page.url()).hash, '#/reset');
      await page.getByLabel('New password', { exact: true }).fill(BOB.reset);
      await page.getByLabel('New password again').fill(BOB.reset);
      await page.getByRole('button', { name: 'Set the new password' }).click();
      await heading(page, 'Sign in');
      assert.match(await page.getByRole('status').innerText(), /password was changed/);

      await signIn(page, BOB.login, BOB.reset);
      await heading(page, 'Welcome, bob');
    });
  });

  test('a lost phone: after an admin resets the key, the next login enrolls a new one (seed 000)', async () => {
    await call(t.app, 'Account/reset_2fa_key', { i_account: aliceId }, rootToken);
    await inBrowser('9-enrollment-after-admin-reset', async (page) => {
      await signIn(page, ALICE.login, ALICE.password);
      await heading(page, 'Set up two-factor authentication');
      const secret = (await page.locator('#totp-secret').innerText()).replace(/\s/g, '');
      assert.notEqual(secret, aliceSecret, 'a new key');
      await enterCode(page, nextCode(secret));
      await heading(page, 'Your recovery codes');
      await page.getByRole('button', { name: 'I saved them, continue' }).click();
      await heading(page, 'Welcome, alice');
    });
  });
});

import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { BillingAuthFault, createClient, memoryStorage, sessionTokensOf, type SessionEndReason } from '@billing-auth/client';
import type { TestApp } from '../../../test/helpers/app.js';
import { clientFor, rootClient, servedCount, startService, totpAt, WireLog } from './helpers.js';

const STEP = 30_000;

describe('@billing-auth/client against the service on a real port', () => {
  let t: TestApp;
  let baseUrl: string;
  let root: Awaited<ReturnType<typeof rootClient>>;
  let seq = 0;
  const unique = (prefix: string) => `${prefix}${++seq}`;

  before(async () => {
    ({ t, baseUrl } = await startService());
  });
  // Tests move the service's clock forward (to token and session ends): each gets a fresh admin session.
  beforeEach(async () => {
    root = await rootClient(t, baseUrl);
  });
  after(async () => {
    await t?.close();
  });

  /** A vendor with a working password (its first login is not restricted). */
  async function newVendor(twoFactor: 'enabled' | 'disabled' = 'disabled'): Promise<{ login: string; password: string }> {
    const login = unique('vendor');
    const password = 'Vendor-pass1';
    await root.Vendor.add_vendor({ login, password, password_must_change: false, two_factor_auth: twoFactor });
    return { login, password };
  }

  test('login keeps the tokens, and a typed call sends them', async () => {
    const { login, password } = await newVendor();
    const client = clientFor(t, baseUrl);
    assert.equal(client.session.get(), undefined);
    const answer = await client.Session.login({ login, password, realm: 'vendor' });
    assert.equal(answer.status, 'authenticated');
    const tokens = client.session.get();
    assert.ok(tokens);
    if (answer.status === 'authenticated') {
      assert.equal(tokens.access_token, answer.access_token);
      assert.equal(tokens.session_id, answer.session_id);
    }
    assert.equal(tokens.restricted, false);

    const ping = await client.Session.ping();
    assert.equal(ping.realm, 'vendor');
    assert.equal(ping.session_id, tokens.session_id);
    const byName = await client.call('Vendor/get_vendor_info', {});
    assert.equal(byName.vendor_info.login, login);
  });

  test('faults are thrown as BillingAuthFault with the fault code, HTTP status and typed details', async () => {
    const client = clientFor(t, baseUrl);
    const wrong = await client.Session.login({ login: 'nobody', password: 'x', realm: 'vendor' }).catch((e: unknown) => e);
    assert.ok(wrong instanceof BillingAuthFault);
    assert.equal(wrong.faultcode, 'Server.Session.auth_failed');
    assert.equal(wrong.status, 401);
    assert.equal(wrong.method, 'Session/login');
    assert.ok(wrong.faultstring.length > 0);
    assert.ok(wrong.requestId, 'the X-Request-Id of the call, to quote to operators');
    assert.equal(client.session.get(), undefined);

    // Params the schema refuses: every error, with its JSON Pointer.
    const invalid = await root.Vendor.add_vendor({ login: '', password: 'x' }).catch((e: unknown) => e);
    assert.ok(BillingAuthFault.is(invalid, 'Client.Request.invalid_params'));
    assert.equal(invalid.status, 400);
    assert.ok(invalid.details.errors.some((e) => e.path === '/login'));

    // A detail typed per fault code: the login already taken names its field.
    const { login } = await newVendor();
    const taken = await root.Vendor.add_vendor({ login, password: 'Vendor-pass1' }).catch((e: unknown) => e);
    assert.ok(taken instanceof BillingAuthFault);
    assert.ok(taken.is('Server.Conflict.login_taken'));
    assert.equal(taken.details.field, 'login');

    // Every broken password rule at once.
    const weak = await root.Vendor.add_vendor({ login: unique('weak'), password: 'a' }).catch((e: unknown) => e);
    assert.ok(BillingAuthFault.is(weak, 'Server.Password.policy_violation'));
    assert.ok(weak.details.violations.includes('min_length'));

    // A session method without a session.
    const anonymous = await client.Session.ping().catch((e: unknown) => e);
    assert.ok(BillingAuthFault.is(anonymous, 'Client.Session.check_auth.failed_to_process_access_token'));
  });

  test('2FA: enrollment on the first login, then a code on the next; a wrong code with the clock-skew hint', async () => {
    const { login, password } = await newVendor('enabled');
    const client = clientFor(t, baseUrl);
    const first = await client.Session.login({ login, password, realm: 'vendor' });
    assert.equal(first.status, 'otp_enrollment_required');
    if (first.status !== 'otp_enrollment_required') return;
    assert.equal(client.session.get(), undefined, 'no session before the code');
    const secret = first.enrollment.secret;
    const enrolled = await client.Session.verify_otp({ mfa_token: first.mfa_token, otp: totpAt(secret, t.clock.now()) });
    assert.equal(enrolled.status, 'authenticated');
    assert.equal(enrolled.recovery_codes?.length, 10);
    assert.equal(client.session.get()?.access_token, enrolled.access_token);
    assert.deepEqual((await client.Session.ping()).amr.sort(), ['mfa', 'otp', 'pwd']);

    t.clock.advance(STEP);
    const again = clientFor(t, baseUrl);
    const second = await again.Session.login({ login, password, realm: 'vendor' });
    assert.equal(second.status, 'otp_required');
    if (second.status !== 'otp_required') return;
    // A code from a phone whose clock is 5 steps ahead: refused, with the hint.
    const skewed = await again.Session.verify_otp({ mfa_token: second.mfa_token, otp: totpAt(secret, t.clock.now() + 5 * STEP) }).catch((e: unknown) => e);
    assert.ok(BillingAuthFault.is(skewed, 'Server.Session.otp_invalid'));
    assert.equal(skewed.details.hint, 'clock_skew');
    assert.equal(again.session.get(), undefined);
    const done = await again.Session.verify_otp({ mfa_token: second.mfa_token, otp: totpAt(secret, t.clock.now()) });
    assert.equal(done.status, 'authenticated');
    assert.equal((await again.TwoFactor.get_status()).enrolled, true);

    // A lost phone: a recovery code instead of the code.
    const third = clientFor(t, baseUrl);
    const challenge = await third.Session.login({ login, password, realm: 'vendor' });
    assert.equal(challenge.status, 'otp_required');
    if (challenge.status !== 'otp_required') return;
    const recovered = await third.Session.verify_otp({ mfa_token: challenge.mfa_token, recovery_code: enrolled.recovery_codes?.[0] ?? '' });
    assert.equal(recovered.recovery_codes_left, 9);
    assert.equal((await third.Session.ping()).session_id, recovered.session_id);
  });

  test('refreshes before expiry with one refresh in flight for many concurrent calls', async () => {
    const { login, password } = await newVendor();
    const wire = new WireLog();
    const client = clientFor(t, baseUrl, { fetch: wire.fetch, refreshMarginSeconds: 60 });
    await client.Session.login({ login, password, realm: 'vendor' });
    const before = client.session.get();
    assert.ok(before);

    // Not yet within the margin: no refresh.
    await client.Session.ping();
    assert.equal(wire.count('Session/refresh_access_token'), 0);

    // 30 seconds before the access token expires (within the 60 s margin): 20 calls at once.
    t.clock.set(Date.parse(before.expires_at) - 30_000);
    const servedBefore = servedCount(t, 'Session/refresh_access_token');
    const answers = await Promise.all(Array.from({ length: 20 }, () => client.Session.ping()));
    assert.equal(wire.count('Session/refresh_access_token'), 1, 'one refresh for all of them');
    assert.equal(servedCount(t, 'Session/refresh_access_token') - servedBefore, 1, 'the service saw one refresh');
    assert.equal(wire.count('Session/ping'), 21);
    for (const a of answers) assert.equal(a.session_id, before.session_id);
    const after = client.session.get();
    assert.ok(after);
    assert.notEqual(after.refresh_token, before.refresh_token, 'the rotated tokens are kept');
    assert.ok(Date.parse(after.expires_at) > Date.parse(before.expires_at));

    // The old refresh token was traded once, so the session is intact: later calls need no refresh.
    await client.Session.ping();
    assert.equal(wire.count('Session/refresh_access_token'), 1);
  });

  test('a token the service finds expired although this clock says otherwise: one refresh, one retry', async () => {
    const { login, password } = await newVendor();
    const wire = new WireLog();
    const lagging = { offset: 0 };
    const client = clientFor(t, baseUrl, { fetch: wire.fetch, now: () => t.clock.now() - lagging.offset });
    await client.Session.login({ login, password, realm: 'vendor' });
    const tokens = client.session.get();
    assert.ok(tokens);
    // The service's clock is past the expiry; the client's is 10 minutes behind.
    t.clock.set(Date.parse(tokens.expires_at) + 1000);
    lagging.offset = 10 * 60_000;
    const ping = await client.Session.ping();
    assert.equal(ping.session_id, tokens.session_id);
    assert.deepEqual(
      wire.calls.filter((c) => c !== 'Session/login'),
      ['Session/ping', 'Session/refresh_access_token', 'Session/ping'],
    );
  });

  test('a session revoked from another device is reported once, and its tokens are cleared', async () => {
    const { login, password } = await newVendor();
    const ends: SessionEndReason[] = [];
    const faults: (string | undefined)[] = [];
    const laptop = clientFor(t, baseUrl, {
      onSessionEnded: (reason, fault) => {
        ends.push(reason);
        faults.push(fault?.faultcode);
      },
    });
    await laptop.Session.login({ login, password, realm: 'vendor' });
    const laptopSession = laptop.session.get()?.session_id;
    assert.ok(laptopSession);

    const phone = clientFor(t, baseUrl);
    await phone.Session.login({ login, password, realm: 'vendor' });
    const list = await phone.Session.get_session_list();
    assert.ok(list.session_list.some((s) => s.session_id === laptopSession));
    await phone.Session.revoke_session({ session_id: laptopSession });

    const results = await Promise.allSettled(Array.from({ length: 5 }, () => laptop.Session.ping()));
    for (const r of results) {
      assert.equal(r.status, 'rejected');
      assert.ok(BillingAuthFault.is(r.reason, 'Server.Session.check_auth.auth_failed'));
    }
    assert.deepEqual(ends, ['ended'], 'reported once');
    assert.deepEqual(faults, ['Server.Session.check_auth.auth_failed']);
    assert.equal(laptop.session.get(), undefined);
    // The phone's own session is untouched.
    assert.equal((await phone.Session.ping()).realm, 'vendor');
  });

  test('a refresh the service refuses (the session ended meanwhile) ends the session for every waiting call', async () => {
    const { login, password } = await newVendor();
    const ends: SessionEndReason[] = [];
    const client = clientFor(t, baseUrl, { onSessionEnded: (reason) => ends.push(reason) });
    await client.Session.login({ login, password, realm: 'vendor' });
    const tokens = client.session.get();
    assert.ok(tokens);
    // Signed out everywhere from another device.
    const other = clientFor(t, baseUrl);
    await other.Session.login({ login, password, realm: 'vendor' });
    await other.Session.logout({ all: true });

    t.clock.set(Date.parse(tokens.expires_at) - 10_000);
    const results = await Promise.allSettled([client.Session.ping(), client.TwoFactor.get_status(), client.Session.get_session_list()]);
    for (const r of results) {
      assert.equal(r.status, 'rejected');
      assert.ok(BillingAuthFault.is(r.reason, 'Server.Session.refresh_token_invalid'));
    }
    assert.deepEqual(ends, ['ended']);
    assert.equal(client.session.get(), undefined);
  });

  test('a session past its end is reported as expired', async () => {
    const { login, password } = await newVendor();
    const ends: SessionEndReason[] = [];
    const client = clientFor(t, baseUrl, { onSessionEnded: (reason) => ends.push(reason) });
    await client.Session.login({ login, password, realm: 'vendor' });
    const tokens = client.session.get();
    assert.ok(tokens);
    t.clock.set(Date.parse(tokens.session_expires_at) + 1000);
    const late = await client.Session.ping().catch((e: unknown) => e);
    assert.ok(BillingAuthFault.is(late, 'Server.Session.refresh_token_invalid'));
    assert.deepEqual(ends, ['expired']);
    assert.equal(client.session.get(), undefined);
  });

  test('an impersonation hands its tokens to a second client, leaving the admin session alone', async () => {
    const customer = unique('customer');
    const { i_customer } = await root.Customer.add_customer({ login: customer });
    const account = unique('1555');
    await root.Account.add_account({ login: account, i_customer, password: 'Account-pass1', password_must_change: false });
    const admin = root.session.get();
    const answer = await root.Session.impersonate({ realm: 'account', login: account });
    assert.equal(root.session.get(), admin, "the admin's own session stays stored");
    const actingAs = createClient({ baseUrl, storage: memoryStorage(sessionTokensOf(answer)), now: () => t.clock.now() });
    const ping = await actingAs.Session.ping();
    assert.equal(ping.realm, 'account');
    assert.equal(typeof ping.impersonated_by, 'number');
  });

  test('logout clears the tokens and reports logged_out', async () => {
    const { login, password } = await newVendor();
    const ends: SessionEndReason[] = [];
    const client = clientFor(t, baseUrl, { onSessionEnded: (reason) => ends.push(reason) });
    await client.Session.login({ login, password, realm: 'vendor' });
    await client.Session.logout();
    assert.deepEqual(ends, ['logged_out']);
    assert.equal(client.session.get(), undefined);
  });

  test('a restricted session becomes a full one after the password change, with the same tokens', async () => {
    const login = unique('vendor');
    await root.Vendor.add_vendor({ login, password: 'Vendor-pass1' });
    const client = clientFor(t, baseUrl);
    const answer = await client.Session.login({ login, password: 'Vendor-pass1', realm: 'vendor' });
    assert.equal(answer.status, 'password_change_required');
    assert.equal(client.session.get()?.restricted, true);
    const restricted = await client.TwoFactor.get_status().catch((e: unknown) => e);
    assert.ok(BillingAuthFault.is(restricted, 'Server.Session.alert_You_must_change_password'));
    assert.ok(client.session.get(), 'a restricted session is not an ended one');
    await client.Session.change_password({ old_password: 'Vendor-pass1', new_password: 'Vendor-pass2' });
    assert.equal(client.session.get()?.restricted, false);
    assert.equal((await client.TwoFactor.get_status()).enrolled, false);
  });

  test('storage is pluggable: tokens in a Web Storage are shared by two clients (two tabs), and a custom store works', async () => {
    const { localStorageStorage } = await import('@billing-auth/client');
    const { login, password } = await newVendor();
    const items = new Map<string, string>();
    const web = {
      getItem: (k: string) => items.get(k) ?? null,
      setItem: (k: string, v: string) => void items.set(k, v),
      removeItem: (k: string) => void items.delete(k),
    };
    const tab1 = clientFor(t, baseUrl, { storage: localStorageStorage('portal.session', web) });
    const tab2 = clientFor(t, baseUrl, { storage: localStorageStorage('portal.session', web) });
    await tab1.Session.login({ login, password, realm: 'vendor' });
    assert.deepEqual(JSON.parse(items.get('portal.session') ?? '{}').session_id, tab1.session.get()?.session_id);
    assert.equal((await tab2.Session.ping()).session_id, tab1.session.get()?.session_id);

    // Tab 2 refreshes; tab 1 then uses the rotated tokens instead of presenting the spent refresh token.
    const first = tab1.session.get();
    assert.ok(first);
    t.clock.set(Date.parse(first.expires_at) - 5_000);
    await tab2.Session.ping();
    await tab1.Session.ping();
    assert.equal((await tab1.Session.ping()).session_id, first.session_id);
    await tab1.Session.logout();
    assert.equal(items.has('portal.session'), false);

    // Damaged stored data reads as no session.
    items.set('portal.session', '{not json');
    assert.equal(tab2.session.get(), undefined);

    // A portal server's own store (e.g. its request session).
    const serverSession: { tokens?: unknown } = {};
    const custom = clientFor(t, baseUrl, {
      storage: {
        get: () => serverSession.tokens as never,
        set: (tokens) => {
          serverSession.tokens = tokens;
        },
        clear: () => {
          delete serverSession.tokens;
        },
      },
    });
    await custom.Session.login({ login, password, realm: 'vendor' });
    assert.ok(serverSession.tokens);
    // Handed over to a client of the next request.
    const next = createClient({ baseUrl, storage: memoryStorage(custom.session.get()), now: () => t.clock.now() });
    assert.equal((await next.Session.ping()).realm, 'vendor');
  });
});

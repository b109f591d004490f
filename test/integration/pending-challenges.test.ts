import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { Secret, TOTP } from 'otpauth';
import { describeEachDatabase, wrappingPasswordChecks, type TestApp } from '../helpers/app.js';
import { call, firstLogin, loginRoot, rest } from '../helpers/rpc.js';

/**
 * An attacker holding the password completes the password step of a 2FA
 * login and keeps the mfa_token; then the owner or an admin acts. Every
 * event that ends the principal's sessions voids that token too, so a code
 * phished afterwards opens nothing.
 */
const STEP = 30_000;
/** The code an authenticator app shows (an independent TOTP implementation). */
const code = (secret: string, at: number) => new TOTP({ secret: Secret.fromBase32(secret) }).generate({ timestamp: at });

interface Victim {
  id: number;
  login: string;
  password: string;
  secret: string;
  /** The owner's own full session. */
  token: string;
}

describeEachDatabase('pending 2FA challenges end with the sessions', (get) => {
  let root: string;
  before(async () => {
    root = await loginRoot(get().app);
  });

  /** A vendor enrolled in 2FA by itself, with its own session; the clock is moved past the step its codes used. */
  async function victim(t: TestApp, login: string): Promise<Victim> {
    const { i_vendor } = await call<{ i_vendor: number }>(t.app, 'Vendor/add_vendor', { login, password: 'Victim-pass1', two_factor_auth: 'disabled' }, root);
    const token = await firstLogin(t.app, 'vendor', login, 'Victim-pass1');
    const { enrollment } = await call<{ enrollment: { secret: string } }>(t.app, 'TwoFactor/start_enrollment', {}, token);
    await call(t.app, 'TwoFactor/confirm_enrollment', { otp: code(enrollment.secret, t.clock.now()) }, token);
    t.clock.advance(STEP);
    return { id: i_vendor, login, password: 'Victim-pass1Z', secret: enrollment.secret, token };
  }

  /** The attacker's half login: the right password, and the mfa_token it answers. */
  async function stolenToken(t: TestApp, v: Pick<Victim, 'login' | 'password'>): Promise<string> {
    const step = await call(t.app, 'Session/login', { login: v.login, password: v.password, realm: 'vendor' });
    assert.equal(step.status, 'otp_required');
    return step.mfa_token as string;
  }

  const sessionsSince = async (t: TestApp, id: number, since: number) =>
    Number((await t.app.db.knex('sessions').where({ realm: 'vendor', principal_id: id }).andWhere('created_at', '>=', since).count({ n: '*' }))[0]?.n);

  /** The phished code comes too late: the token is void, and no session was opened. */
  async function refused(t: TestApp, v: Victim, mfaToken: string, since: number, secret = v.secret): Promise<void> {
    t.clock.advance(STEP);
    const answer = await rest(t.app, 'Session/verify_otp', { mfa_token: mfaToken, otp: code(secret, t.clock.now()) });
    assert.equal(answer.status, 401, JSON.stringify(answer.body));
    assert.equal(answer.body.faultcode, 'Server.Session.mfa_token_invalid');
    assert.equal(await sessionsSince(t, v.id, since), 0, 'no session was opened');
  }

  const events: Array<[string, (t: TestApp, v: Victim) => Promise<unknown>]> = [
    [
      'the owner changes the password',
      (t, v) => call(t.app, 'Session/change_password', { old_password: v.password, new_password: 'Owner-new-pass1' }, v.token),
    ],
    ['an admin sets a password', (t, v) => call(t.app, 'Vendor/update_vendor', { i_vendor: v.id, password: 'Admin-set-pass1' }, root)],
    [
      'an admin blocks the principal, then unblocks it',
      async (t, v) => {
        await call(t.app, 'Vendor/update_vendor', { i_vendor: v.id, blocked: true }, root);
        await call(t.app, 'Vendor/update_vendor', { i_vendor: v.id, blocked: false }, root);
      },
    ],
    [
      "README's complete answer to a stolen login: block, set a password, unblock",
      async (t, v) => {
        await call(t.app, 'Vendor/update_vendor', { i_vendor: v.id, blocked: true }, root);
        await call(t.app, 'Vendor/update_vendor', { i_vendor: v.id, password: 'Admin-set-pass2' }, root);
        await call(t.app, 'Vendor/update_vendor', { i_vendor: v.id, blocked: false }, root);
      },
    ],
    ['an admin deletes the principal', (t, v) => call(t.app, 'Vendor/delete_vendor', { i_vendor: v.id }, root)],
    ['an admin resets the 2FA key', (t, v) => call(t.app, 'Vendor/reset_2fa_key', { i_vendor: v.id }, root)],
    ['the owner disables 2FA', (t, v) => call(t.app, 'TwoFactor/disable', { otp: code(v.secret, t.clock.now()) }, v.token)],
    ['the owner logs out everywhere', (t, v) => call(t.app, 'Session/logout', { all: true }, v.token)],
  ];
  events.forEach(([event, act], i) => {
    test(`${event}: a pending mfa_token is void`, async () => {
      const t = get();
      const v = await victim(t, `victim-${i}`);
      const bystander = await victim(t, `bystander-${i}`);
      const mfaToken = await stolenToken(t, v);
      const untouched = await stolenToken(t, bystander);
      const since = t.clock.now();
      await act(t, v);
      await refused(t, v, mfaToken, since);
      // Only the principal's own challenges go.
      const other = await rest(t.app, 'Session/verify_otp', { mfa_token: untouched, otp: code(bystander.secret, t.clock.now()) });
      assert.equal(other.status, 200, JSON.stringify(other.body));
    });
  });

  test('a pending enrollment token is void after an admin sets a password', async () => {
    const t = get();
    await call(t.app, 'Vendor/add_vendor', { login: 'victim-enroll', password: 'Victim-pass1', two_factor_auth: 'enabled' }, root);
    const info = (await call(t.app, 'Vendor/get_vendor_info', { login: 'victim-enroll' }, root)).vendor_info as { i_vendor: number };
    const step = await call(t.app, 'Session/login', { login: 'victim-enroll', password: 'Victim-pass1', realm: 'vendor' });
    assert.equal(step.status, 'otp_enrollment_required');
    const since = t.clock.now();
    await call(t.app, 'Vendor/update_vendor', { i_vendor: info.i_vendor, password: 'Admin-set-pass3' }, root);
    const v = { id: info.i_vendor, login: 'victim-enroll', password: '', secret: '', token: '' };
    await refused(t, v, step.mfa_token as string, since, (step.enrollment as { secret: string }).secret);
  });

  test('a password change that commits while a login checks the old password voids what that login opens', async () => {
    const t = get();
    const v = await victim(t, 'victim-race');
    const plain = await call<{ i_vendor: number }>(
      t.app,
      'Vendor/add_vendor',
      { login: 'plain-race', password: 'Plain-pass1', two_factor_auth: 'disabled' },
      root,
    );
    await firstLogin(t.app, 'vendor', 'plain-race', 'Plain-pass1');
    for (const [login, password, id] of [
      [v.login, v.password, v.id],
      ['plain-race', 'Plain-pass1Z', plain.i_vendor],
    ] as const) {
      // The owner's new password commits after the attacker's bcrypt check passed, before the login goes on.
      const racing: Parameters<typeof wrappingPasswordChecks>[1] = (verify) => async (p, h) => {
        const ok = await verify(p, h);
        await call(t.app, 'Vendor/update_vendor', { i_vendor: id, password: `${password}-next` }, root);
        return ok;
      };
      const since = t.clock.now();
      const answer = await wrappingPasswordChecks(t.app, racing, () => rest(t.app, 'Session/login', { login, password, realm: 'vendor' }));
      assert.equal(answer.status, 401, JSON.stringify(answer.body));
      assert.equal(answer.body.faultcode, 'Server.Session.auth_failed');
      const live = await t.app.db.knex('sessions').where({ realm: 'vendor', principal_id: id }).andWhere('created_at', '>=', since).whereNull('revoked_at');
      assert.deepEqual(live, [], 'no live session');
      const pending = await t.app.db.knex('mfa_challenges').where({ realm: 'vendor', principal_id: id }).whereNull('consumed_at');
      assert.deepEqual(pending, [], 'no usable mfa_token');
    }
  });
});

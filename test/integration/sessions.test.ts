import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { before, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { sha256 } from '../../src/domain/crypto/hash.js';
import { describeEachDatabase } from '../helpers/app.js';
import { call, firstLogin, loginRoot, rest, rpc } from '../helpers/rpc.js';

interface Issued {
  status: string;
  reason?: string;
  access_token: string;
  refresh_token: string;
  expires_at: string;
  session_expires_at: string;
  session_id: string;
}

interface SessionItem {
  session_id: string;
  created_at: string;
  last_seen_at: string;
  expires_at: string;
  ip: string | null;
  user_agent: string | null;
  amr: string[];
  current: boolean;
  impersonated_by?: number;
}

interface AuditItem {
  event: string;
  actor_realm: string | null;
  actor_id: number | null;
  session_id: string | null;
  realm: string | null;
  entity: string | null;
  entity_id: number | null;
  details: Record<string, unknown>;
}

const PASSWORD = 'Secret-1a';
/** What `firstLogin` changes an admin-set password to. */
const CHANGED = `${PASSWORD}Z`;

/** A REST call that must fail with `faultcode` and HTTP `status`. */
async function expectFault(app: FastifyInstance, method: string, params: unknown, token: string | undefined, faultcode: string, status: number) {
  const answer = await rest(app, method, params, token);
  assert.equal(answer.status, status, `${method}: ${JSON.stringify(answer.body)}`);
  assert.equal(answer.body.faultcode, faultcode);
  return answer.body;
}

/** A JSON-RPC call that must fail with `faultcode` and error `code`. */
async function expectRpcFault(app: FastifyInstance, method: string, params: unknown, token: string | undefined, faultcode: string, code: number) {
  const answer = await rpc(app, method, params, token);
  assert.equal(answer.result, undefined, `${method}: ${JSON.stringify(answer)}`);
  assert.equal(answer.error?.code, code);
  assert.equal(answer.error?.data.faultcode, faultcode);
  return answer.error;
}

const open = (app: FastifyInstance, realm: string, login: string, password: string) => call<Issued>(app, 'Session/login', { login, password, realm });

const refresh = (app: FastifyInstance, refreshToken: string) => rest(app, 'Session/refresh_access_token', { refresh_token: refreshToken });

const sessionsOf = (app: FastifyInstance, token: string, params: Record<string, unknown> = {}) =>
  call<{ session_list: SessionItem[]; total: number }>(app, 'Session/get_session_list', { with_total: true, ...params }, token);

async function auditEvents(app: FastifyInstance, event: string): Promise<AuditItem[]> {
  const root = await loginRoot(app);
  return (await call<{ event_list: AuditItem[] }>(app, 'AuditLog/get_event_list', { event }, root)).event_list;
}

describeEachDatabase('Sessions: refresh, list, revoke, impersonate', (get, target) => {
  /** Customers `acme` and `globex` (passwords already changed), account `15550001` of acme, admins `helpdesk` and `clerk`. */
  let acme: number;
  let globex: number;
  let account: number;
  let helpdesk: number;

  before(async () => {
    const { app } = get();
    const root = await loginRoot(app);
    acme = (await call<{ i_customer: number }>(app, 'Customer/add_customer', { login: 'acme', password: PASSWORD }, root)).i_customer;
    globex = (await call<{ i_customer: number }>(app, 'Customer/add_customer', { login: 'globex', password: PASSWORD }, root)).i_customer;
    account = (await call<{ i_account: number }>(app, 'Account/add_account', { login: '15550001', i_customer: acme, password: PASSWORD }, root)).i_account;
    helpdesk = (
      await call<{ i_user: number }>(app, 'User/add_user', { login: 'helpdesk', password: PASSWORD, permissions: ['sessions.impersonate', 'audit.read'] }, root)
    ).i_user;
    await call(app, 'User/add_user', { login: 'clerk', password: PASSWORD, permissions: ['customers.manage'] }, root);
    await firstLogin(app, 'customer', 'acme', PASSWORD);
    await firstLogin(app, 'customer', 'globex', PASSWORD);
    await firstLogin(app, 'admin', 'helpdesk', PASSWORD);
    await firstLogin(app, 'admin', 'clerk', PASSWORD);
  });

  test('a login and its audit row commit together: no session is opened when the audit row cannot be written', async () => {
    const { app } = get();
    const before = (await sessionsOf(app, (await open(app, 'customer', 'globex', CHANGED)).access_token)).total;
    const original = app.repos.audit.record;
    app.repos.audit.record = async () => {
      throw new Error('audit storage failed');
    };
    try {
      const answer = await rest(app, 'Session/login', { login: 'globex', password: CHANGED, realm: 'customer' });
      assert.equal(answer.status, 500);
      assert.equal(answer.body.faultcode, 'Server.Internal.error');
    } finally {
      app.repos.audit.record = original;
    }
    const after = await open(app, 'customer', 'globex', CHANGED);
    assert.equal((await sessionsOf(app, after.access_token)).total, before + 1, 'only the login made after the failure added a session');
  });

  test('a refresh rotates both tokens; the new ones work and the session stays the same', async () => {
    const { app, clock, config } = get();
    const first = await open(app, 'customer', 'acme', CHANGED);
    clock.advance(60_000);
    const answer = await refresh(app, first.refresh_token);
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    const second = answer.body as unknown as Issued;
    assert.equal(second.status, 'authenticated');
    assert.equal(second.session_id, first.session_id);
    assert.equal(second.session_expires_at, first.session_expires_at, 'a refresh does not extend the absolute lifetime');
    assert.notEqual(second.access_token, first.access_token);
    assert.notEqual(second.refresh_token, first.refresh_token);
    assert.ok(second.refresh_token.startsWith(`${first.session_id}.`));
    const expectedExpiry = Math.floor((clock.now() + config.ACCESS_TOKEN_TTL) / 1000) * 1000;
    assert.equal(Date.parse(second.expires_at), expectedExpiry);

    const ping = await call(app, 'Session/ping', {}, second.access_token);
    assert.equal(ping.session_id, first.session_id);
    assert.equal(ping.user_id, acme);
    assert.deepEqual(ping.amr, ['pwd']);

    // The new refresh token is good for exactly one more rotation.
    const third = await refresh(app, second.refresh_token);
    assert.equal(third.status, 200);
    assert.equal(third.body.session_id, first.session_id);
  });

  test('an old refresh token presented again revokes the whole session', async () => {
    const { app } = get();
    const first = await open(app, 'customer', 'acme', CHANGED);
    const second = (await refresh(app, first.refresh_token)).body as unknown as Issued;
    assert.equal(second.status, 'authenticated');

    await expectFault(app, 'Session/refresh_access_token', { refresh_token: first.refresh_token }, undefined, 'Server.Session.refresh_token_invalid', 401);
    // Every token of the session is dead: the new access token, the new refresh token, the old access token.
    await expectFault(app, 'Session/ping', {}, second.access_token, 'Server.Session.check_auth.auth_failed', 401);
    await expectFault(app, 'Session/ping', {}, first.access_token, 'Server.Session.check_auth.auth_failed', 401);
    await expectFault(app, 'Session/refresh_access_token', { refresh_token: second.refresh_token }, undefined, 'Server.Session.refresh_token_invalid', 401);

    const reuse = (await auditEvents(app, 'session.refresh_token_reuse')).find((e) => e.session_id === first.session_id);
    assert.ok(reuse, 'the reuse is audited');
    assert.equal(reuse.realm, 'customer');
    assert.equal(reuse.entity, 'customer');
    assert.equal(reuse.entity_id, acme);
  });

  test('refresh faults over JSON-RPC; unknown and garbage tokens revoke nothing', async () => {
    const { app } = get();
    const session = await open(app, 'customer', 'acme', CHANGED);
    const [sessionId] = session.refresh_token.split('.');
    const candidates = [
      'garbage',
      `${sessionId}.${'A'.repeat(43)}`, // right session, wrong secret
      `${randomUUID()}.${'A'.repeat(43)}`, // no such session
      `${session.refresh_token}x`,
      session.access_token,
    ];
    for (const token of candidates) {
      await expectFault(app, 'Session/refresh_access_token', { refresh_token: token }, undefined, 'Server.Session.refresh_token_invalid', 401);
      await expectRpcFault(app, 'Session/refresh_access_token', { refresh_token: token }, undefined, 'Server.Session.refresh_token_invalid', -32001);
    }
    // None of that touched the session: its access token and its refresh token still work.
    assert.equal((await call(app, 'Session/ping', {}, session.access_token)).session_id, session.session_id);
    const viaRpc = await rpc(app, 'Session/refresh_access_token', { refresh_token: session.refresh_token });
    assert.equal(viaRpc.result?.status, 'authenticated');
    assert.equal(viaRpc.result?.session_id, session.session_id);

    await expectFault(app, 'Session/refresh_access_token', {}, undefined, 'Client.Request.invalid_params', 400);
    await expectRpcFault(app, 'Session/refresh_access_token', { refresh_token: 42 }, undefined, 'Client.Request.invalid_params', -32602);
  });

  test('five concurrent refreshes with one token: exactly one succeeds, and the reuse ends the session', async () => {
    const { app } = get();
    const session = await open(app, 'customer', 'acme', CHANGED);
    const answers = await Promise.all(Array.from({ length: 5 }, () => refresh(app, session.refresh_token)));
    const won = answers.filter((a) => a.status === 200);
    const lost = answers.filter((a) => a.status !== 200);
    assert.equal(won.length, 1, JSON.stringify(answers));
    for (const a of lost) {
      assert.equal(a.status, 401);
      assert.equal(a.body.faultcode, 'Server.Session.refresh_token_invalid');
    }
    // The losers presented a token that had just been rotated: that is reuse, so the winner's tokens die too.
    const winner = won[0]?.body as unknown as Issued;
    await expectFault(app, 'Session/ping', {}, winner.access_token, 'Server.Session.check_auth.auth_failed', 401);
    await expectFault(app, 'Session/refresh_access_token', { refresh_token: winner.refresh_token }, undefined, 'Server.Session.refresh_token_invalid', 401);
  });

  test(
    'two refreshes that both read the token before either rotates it: the loser of the compare-and-set is reuse',
    // On SQLite a refresh reads and rotates inside one write transaction, so two can never interleave.
    { skip: target === 'sqlite' && 'SQLite serialises the read and the rotation' },
    async () => {
      const { app } = get();
      const session = await open(app, 'customer', 'acme', CHANGED);
      const sessions = app.repos.sessions;
      const rotate = sessions.rotateRefreshToken;
      let arrived = 0;
      let bothRead!: () => void;
      const barrier = new Promise<void>((resolve) => (bothRead = resolve));
      const fallback = setTimeout(() => bothRead(), 5_000);
      sessions.rotateRefreshToken = async (...args) => {
        if (++arrived === 2) bothRead();
        await barrier;
        return rotate.apply(sessions, args);
      };
      try {
        const answers = await Promise.all([refresh(app, session.refresh_token), refresh(app, session.refresh_token)]);
        assert.equal(arrived, 2, 'both read the current token');
        assert.deepEqual(answers.map((a) => a.status).sort(), [200, 401]);
        const winner = answers.find((a) => a.status === 200)?.body as unknown as Issued;
        await expectFault(app, 'Session/ping', {}, winner.access_token, 'Server.Session.check_auth.auth_failed', 401);
        await expectFault(app, 'Session/refresh_access_token', { refresh_token: winner.refresh_token }, undefined, 'Server.Session.refresh_token_invalid', 401);
      } finally {
        clearTimeout(fallback);
        sessions.rotateRefreshToken = rotate;
      }
    },
  );

  test('the rotation is a compare-and-set: of two rotations from the same hash only the first wins', async () => {
    // The interleaving above depends on the engine (SQLite serializes the five requests); this pins the CAS itself.
    const { app, clock } = get();
    const session = await open(app, 'customer', 'acme', CHANGED);
    const old = sha256(session.refresh_token);
    assert.equal(await app.repos.sessions.rotateRefreshToken(session.session_id, old, sha256('a'), clock.now()), true);
    assert.equal(await app.repos.sessions.rotateRefreshToken(session.session_id, old, sha256('b'), clock.now()), false);
    const row = await app.repos.sessions.findById(session.session_id);
    assert.equal(row?.refresh_token_hash, sha256('a'));
    assert.equal(row?.previous_refresh_token_hash, old);
  });

  test('an idle session cannot refresh; a refresh keeps the idle window open', async () => {
    const { app, clock, config } = get();
    const idle = await open(app, 'customer', 'acme', CHANGED);
    const kept = await open(app, 'customer', 'acme', CHANGED);
    clock.advance(config.SESSION_IDLE_TTL - 60_000);
    const refreshed = await refresh(app, kept.refresh_token);
    assert.equal(refreshed.status, 200);
    clock.advance(120_000);
    await expectFault(app, 'Session/refresh_access_token', { refresh_token: idle.refresh_token }, undefined, 'Server.Session.refresh_token_invalid', 401);
    const next = refreshed.body as unknown as Issued;
    assert.equal((await call(app, 'Session/ping', {}, next.access_token)).session_id, kept.session_id);
    // An idle-expired session is not shown either.
    const ids = (await sessionsOf(app, next.access_token)).session_list.map((s) => s.session_id);
    assert.ok(ids.includes(kept.session_id));
    assert.ok(!ids.includes(idle.session_id));
  });

  test('no refresh beyond the absolute lifetime; the last access tokens end with the session', async () => {
    const { app, clock, config } = get();
    let current = await open(app, 'customer', 'acme', CHANGED);
    const sessionEnd = Date.parse(current.session_expires_at);
    const step = config.SESSION_IDLE_TTL / 2;
    // Keep the session busy (never idle) until shortly before its absolute end.
    while (clock.now() + step < sessionEnd - 60_000) {
      clock.advance(step);
      const answer = await refresh(app, current.refresh_token);
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      current = answer.body as unknown as Issued;
      assert.ok(Date.parse(current.expires_at) <= sessionEnd, 'an access token never outlives its session');
    }
    clock.set(sessionEnd - 60_000);
    const last = (await refresh(app, current.refresh_token)).body as unknown as Issued;
    assert.equal(last.status, 'authenticated');
    assert.equal(Date.parse(last.expires_at), Math.floor(sessionEnd / 1000) * 1000, 'capped at the session end, not ACCESS_TOKEN_TTL');
    clock.advance(60_000);
    await expectFault(app, 'Session/refresh_access_token', { refresh_token: last.refresh_token }, undefined, 'Server.Session.refresh_token_invalid', 401);
  });

  test('a logged-out session cannot refresh; logout is audited', async () => {
    const { app } = get();
    const session = await open(app, 'customer', 'acme', CHANGED);
    assert.deepEqual(await call(app, 'Session/logout', {}, session.access_token), { success: 1, sessions_ended: 1 });
    await expectFault(app, 'Session/refresh_access_token', { refresh_token: session.refresh_token }, undefined, 'Server.Session.refresh_token_invalid', 401);
    const row = (await auditEvents(app, 'logout')).find((e) => e.session_id === session.session_id);
    assert.ok(row, 'logout writes an audit row');
    assert.equal(row.actor_realm, 'customer');
    assert.equal(row.actor_id, acme);
    assert.equal(row.entity, 'customer');
    assert.equal(row.entity_id, acme);
    assert.deepEqual(row.details, { all: false, sessions_ended: 1 });
  });

  test('a blocked principal cannot refresh, not even after it is unblocked', async () => {
    const { app } = get();
    const session = await open(app, 'customer', 'globex', CHANGED);
    const root = await loginRoot(app);
    await call(app, 'Customer/update_customer', { i_customer: globex, blocked: true }, root);
    await expectFault(app, 'Session/refresh_access_token', { refresh_token: session.refresh_token }, undefined, 'Server.Session.refresh_token_invalid', 401);
    await call(app, 'Customer/update_customer', { i_customer: globex, blocked: false }, root);
    // Blocking ended the session: unblocking does not bring it back.
    await expectFault(app, 'Session/refresh_access_token', { refresh_token: session.refresh_token }, undefined, 'Server.Session.refresh_token_invalid', 401);
  });

  test('a restricted session stays restricted across a refresh', async () => {
    const { app } = get();
    const root = await loginRoot(app);
    await call(app, 'Customer/add_customer', { login: 'initech', password: PASSWORD }, root);
    const restricted = await open(app, 'customer', 'initech', PASSWORD);
    assert.equal(restricted.status, 'password_change_required');
    const refreshed = (await refresh(app, restricted.refresh_token)).body as unknown as Issued;
    assert.equal(refreshed.status, 'password_change_required');
    assert.equal(refreshed.reason, 'must_change');
    await expectFault(app, 'AuditLog/get_event_list', {}, refreshed.access_token, 'Server.Session.alert_You_must_change_password', 403);
    await call(app, 'Session/change_password', { old_password: PASSWORD, new_password: CHANGED }, refreshed.access_token);
    const lifted = (await refresh(app, refreshed.refresh_token)).body as unknown as Issued;
    assert.equal(lifted.status, 'authenticated');
    assert.equal(lifted.reason, undefined);
  });

  test('get_session_list: the caller’s live sessions, newest first, with the current one marked', async () => {
    const { app, clock } = get();
    const mine = await open(app, 'customer', 'acme', CHANGED);
    const root = await loginRoot(app);
    // Only acme's sessions from here on are counted: end the earlier ones.
    await call(app, 'Session/logout', { all: true }, mine.access_token);
    clock.advance(1000);
    const older = await open(app, 'customer', 'acme', CHANGED);
    clock.advance(1000);
    const ua = await rest(app, 'Session/login', { login: 'acme', password: CHANGED, realm: 'customer' }, undefined, { 'user-agent': 'portal/2.0' });
    const newer = ua.body as unknown as Issued;
    clock.advance(1000);
    const revoked = await open(app, 'customer', 'acme', CHANGED);
    await call(app, 'Session/logout', {}, revoked.access_token);
    const other = await open(app, 'customer', 'globex', CHANGED);

    const list = await sessionsOf(app, older.access_token);
    assert.equal(list.total, 2);
    assert.deepEqual(
      list.session_list.map((s) => s.session_id),
      [newer.session_id, older.session_id],
    );
    const [n, o] = list.session_list as [SessionItem, SessionItem];
    assert.equal(n.current, false);
    assert.equal(o.current, true);
    assert.equal(n.user_agent, 'portal/2.0');
    assert.equal(n.ip, '127.0.0.1');
    assert.deepEqual(n.amr, ['pwd']);
    assert.equal(n.impersonated_by, undefined);
    assert.equal(n.expires_at, newer.session_expires_at);
    assert.ok(Date.parse(n.created_at) > Date.parse(o.created_at));
    assert.ok(Date.parse(o.last_seen_at) >= Date.parse(o.created_at));

    const paged = await sessionsOf(app, older.access_token, { limit: 1, offset: 1 });
    assert.equal(paged.total, 2);
    assert.deepEqual(
      paged.session_list.map((s) => s.session_id),
      [older.session_id],
    );

    // Someone else's list never shows acme's sessions; an admin's neither.
    const theirs = await rpc(app, 'Session/get_session_list', {}, other.access_token);
    const theirIds = (theirs.result?.session_list as SessionItem[]).map((s) => s.session_id);
    assert.ok(theirIds.includes(other.session_id));
    assert.ok(!theirIds.includes(older.session_id) && !theirIds.includes(newer.session_id));
    const rootIds = (await sessionsOf(app, root)).session_list.map((s) => s.session_id);
    assert.ok(!rootIds.includes(older.session_id));

    await expectFault(app, 'Session/get_session_list', {}, undefined, 'Client.Session.check_auth.failed_to_process_access_token', 401);
  });

  test('revoke_session ends one of the caller’s own sessions, and only its own', async () => {
    const { app } = get();
    const a = await open(app, 'customer', 'acme', CHANGED);
    const b = await open(app, 'customer', 'acme', CHANGED);
    const foreign = await open(app, 'customer', 'globex', CHANGED);

    assert.deepEqual(await call(app, 'Session/revoke_session', { session_id: b.session_id }, a.access_token), { success: 1 });
    await expectFault(app, 'Session/ping', {}, b.access_token, 'Server.Session.check_auth.auth_failed', 401);
    await expectFault(app, 'Session/refresh_access_token', { refresh_token: b.refresh_token }, undefined, 'Server.Session.refresh_token_invalid', 401);
    assert.ok(!(await sessionsOf(app, a.access_token)).session_list.some((s) => s.session_id === b.session_id));

    // Already ended, someone else's, unknown: all the same 404.
    await expectFault(app, 'Session/revoke_session', { session_id: b.session_id }, a.access_token, 'Server.NotFound', 404);
    await expectFault(app, 'Session/revoke_session', { session_id: foreign.session_id }, a.access_token, 'Server.NotFound', 404);
    await expectRpcFault(app, 'Session/revoke_session', { session_id: foreign.session_id }, a.access_token, 'Server.NotFound', -32004);
    await expectFault(app, 'Session/revoke_session', { session_id: randomUUID() }, a.access_token, 'Server.NotFound', 404);
    await expectFault(app, 'Session/revoke_session', { session_id: 'not-a-uuid' }, a.access_token, 'Client.Request.invalid_params', 400);
    // The other principal's session was not touched.
    assert.equal((await call(app, 'Session/ping', {}, foreign.access_token)).session_id, foreign.session_id);
    // An admin cannot end a customer's session with it either: it is not the admin's own.
    await expectFault(app, 'Session/revoke_session', { session_id: foreign.session_id }, await loginRoot(app), 'Server.NotFound', 404);

    const audit = (await auditEvents(app, 'session.revoke')).find((e) => e.details.revoked_session_id === b.session_id);
    assert.ok(audit, 'the revocation is audited');
    assert.equal(audit.actor_realm, 'customer');
    assert.equal(audit.actor_id, acme);
    assert.equal(audit.session_id, a.session_id);
    assert.equal(audit.entity, 'customer');
    assert.equal(audit.entity_id, acme);
    assert.equal(audit.details.current, false);

    // The calling session may end itself too.
    assert.deepEqual(await call(app, 'Session/revoke_session', { session_id: a.session_id }, a.access_token), { success: 1 });
    await expectFault(app, 'Session/ping', {}, a.access_token, 'Server.Session.check_auth.auth_failed', 401);
  });

  test('blocking an admin or setting its password ends the sessions it opened as others, for good', async () => {
    const { app } = get();
    const root = await loginRoot(app);
    const admin = await call<{ i_user: number }>(
      app,
      'User/add_user',
      { login: 'stolen-helpdesk', password: PASSWORD, permissions: ['sessions.impersonate'] },
      root,
    );
    await firstLogin(app, 'admin', 'stolen-helpdesk', PASSWORD);
    for (const change of [{ blocked: true }, { password: `${PASSWORD}-new` }] as const) {
      const session = await call<Issued>(app, 'Session/login', { login: 'stolen-helpdesk', password: CHANGED, realm: 'admin' });
      const imp = await call<Issued>(app, 'Session/impersonate', { realm: 'customer', id: acme }, session.access_token);
      await call(app, 'User/update_user', { i_user: admin.i_user, ...change }, root);
      if ('blocked' in change) await call(app, 'User/update_user', { i_user: admin.i_user, blocked: false }, root);
      await expectFault(app, 'Session/ping', {}, imp.access_token, 'Server.Session.check_auth.auth_failed', 401);
      await expectFault(app, 'Session/refresh_access_token', { refresh_token: imp.refresh_token }, undefined, 'Server.Session.refresh_token_invalid', 401);
      if ('password' in change) {
        // Back to the password the next round logs in with (changed by the owner, not an admin).
        const fresh = await call<Issued>(app, 'Session/login', { login: 'stolen-helpdesk', password: `${PASSWORD}-new`, realm: 'admin' });
        await call(app, 'Session/change_password', { old_password: `${PASSWORD}-new`, new_password: CHANGED }, fresh.access_token);
      }
    }
  });

  test('an admin that loses sessions.impersonate loses the sessions it opened as others, for good', async () => {
    const { app } = get();
    const root = await loginRoot(app);
    const admin = await call<{ i_user: number }>(
      app,
      'User/add_user',
      { login: 'demoted-helpdesk', password: PASSWORD, permissions: ['sessions.impersonate', 'audit.read'] },
      root,
    );
    const own = await firstLogin(app, 'admin', 'demoted-helpdesk', PASSWORD);
    const imp = await call<Issued>(app, 'Session/impersonate', { realm: 'customer', id: acme }, own);
    await call(app, 'User/update_user', { i_user: admin.i_user, permissions: ['audit.read'] }, root);
    await expectFault(app, 'Session/ping', {}, imp.access_token, 'Server.Session.check_auth.auth_failed', 401);
    await expectFault(app, 'Session/refresh_access_token', { refresh_token: imp.refresh_token }, undefined, 'Server.Session.refresh_token_invalid', 401);
    // Giving the permission back revives nothing.
    await call(app, 'User/update_user', { i_user: admin.i_user, permissions: ['sessions.impersonate', 'audit.read'] }, root);
    await expectFault(app, 'Session/refresh_access_token', { refresh_token: imp.refresh_token }, undefined, 'Server.Session.refresh_token_invalid', 401);
    await expectFault(app, 'Session/ping', {}, imp.access_token, 'Server.Session.check_auth.auth_failed', 401);
    // The admin's own session is not an impersonation: it goes on, and may impersonate again.
    assert.equal((await call(app, 'Session/ping', {}, own)).realm, 'admin');
    const again = await call<Issued>(app, 'Session/impersonate', { realm: 'customer', id: acme }, own);
    assert.equal((await refresh(app, again.refresh_token)).status, 200);
    const update = (await auditEvents(app, 'user.update')).find((e) => e.entity_id === admin.i_user && e.details.sessions_revoked === 1);
    assert.ok(update, 'the permission change is audited with the sessions it ended');
  });

  test('an admin that blocks itself keeps no session, not even after it is unblocked', async () => {
    const { app } = get();
    const root = await loginRoot(app);
    const admin = await call<{ i_user: number }>(app, 'User/add_user', { login: 'self-blocker', password: PASSWORD, permissions: ['users.manage'] }, root);
    const token = await firstLogin(app, 'admin', 'self-blocker', PASSWORD);
    await call(app, 'User/update_user', { i_user: admin.i_user, blocked: true }, token);
    await call(app, 'User/update_user', { i_user: admin.i_user, blocked: false }, root);
    await expectFault(app, 'Session/ping', {}, token, 'Server.Session.check_auth.auth_failed', 401);
  });

  test('impersonation opens a session as the principal, marked with the admin', async () => {
    const { app } = get();
    const admin = await open(app, 'admin', 'helpdesk', CHANGED);
    const imp = await call<Issued>(app, 'Session/impersonate', { realm: 'customer', id: acme }, admin.access_token);
    assert.equal(imp.status, 'authenticated');

    const ping = await call(app, 'Session/ping', {}, imp.access_token);
    assert.equal(ping.realm, 'customer');
    assert.equal(ping.user_id, acme);
    assert.equal(ping.session_id, imp.session_id);
    assert.equal(ping.impersonated_by, helpdesk);
    assert.deepEqual(ping.amr, ['imp']);
    assert.equal(ping.restricted, false);

    // The customer sees it in their list, marked.
    const own = await open(app, 'customer', 'acme', CHANGED);
    const listed = (await sessionsOf(app, own.access_token)).session_list.find((s) => s.session_id === imp.session_id);
    assert.equal(listed?.impersonated_by, helpdesk);
    assert.deepEqual(listed?.amr, ['imp']);

    // It can do what the principal can, but never change the principal's password.
    await expectFault(
      app,
      'Session/change_password',
      { old_password: CHANGED, new_password: `${CHANGED}9` },
      imp.access_token,
      'Server.AccessControl.forbidden',
      403,
    );
    await expectRpcFault(
      app,
      'Session/change_password',
      { old_password: CHANGED, new_password: `${CHANGED}9` },
      imp.access_token,
      'Server.AccessControl.forbidden',
      -32003,
    );
    // The customer's password is unchanged.
    await open(app, 'customer', 'acme', CHANGED);

    // A refresh keeps the impersonation mark.
    const refreshed = (await refresh(app, imp.refresh_token)).body as unknown as Issued;
    assert.equal((await call(app, 'Session/ping', {}, refreshed.access_token)).impersonated_by, helpdesk);

    // Accounts too, over JSON-RPC.
    const viaRpc = await rpc(app, 'Session/impersonate', { realm: 'account', id: account }, admin.access_token);
    assert.equal(viaRpc.result?.status, 'authenticated');
    const accountPing = await call(app, 'Session/ping', {}, viaRpc.result?.access_token as string);
    assert.equal(accountPing.realm, 'account');
    assert.equal(accountPing.user_id, account);
    assert.equal(accountPing.impersonated_by, helpdesk);

    const audit = (await auditEvents(app, 'session.impersonate')).find((e) => e.details.impersonation_session_id === imp.session_id);
    assert.ok(audit, 'the impersonation is audited');
    assert.equal(audit.actor_realm, 'admin');
    assert.equal(audit.actor_id, helpdesk);
    assert.equal(audit.session_id, admin.session_id);
    assert.equal(audit.realm, 'customer');
    assert.equal(audit.entity, 'customer');
    assert.equal(audit.entity_id, acme);
  });

  test('impersonation is refused without the permission, outside the allowed realms, for unknown and blocked principals', async () => {
    const { app } = get();
    const admin = await open(app, 'admin', 'helpdesk', CHANGED);
    const clerk = await open(app, 'admin', 'clerk', CHANGED);
    const customer = await open(app, 'customer', 'acme', CHANGED);

    const noPermission = await expectFault(
      app,
      'Session/impersonate',
      { realm: 'customer', id: acme },
      clerk.access_token,
      'Server.AccessControl.forbidden',
      403,
    );
    assert.match(String(noPermission.faultstring), /sessions\.impersonate/);
    await expectRpcFault(app, 'Session/impersonate', { realm: 'customer', id: acme }, clerk.access_token, 'Server.AccessControl.forbidden', -32003);
    await expectFault(app, 'Session/impersonate', { realm: 'customer', id: globex }, customer.access_token, 'Server.AccessControl.forbidden', 403);
    await expectFault(app, 'Session/impersonate', { realm: 'customer', id: acme }, undefined, 'Client.Session.check_auth.failed_to_process_access_token', 401);

    for (const realm of ['admin', 'vendor', 'representative']) {
      await expectFault(app, 'Session/impersonate', { realm, id: 1 }, admin.access_token, 'Client.Request.invalid_params', 400);
    }
    await expectRpcFault(app, 'Session/impersonate', { realm: 'admin', id: 1 }, admin.access_token, 'Client.Request.invalid_params', -32602);

    await expectFault(app, 'Session/impersonate', { realm: 'customer', id: 999_999 }, admin.access_token, 'Server.NotFound', 404);
    await expectFault(app, 'Session/impersonate', { realm: 'customer_individual', id: 999_999 }, admin.access_token, 'Server.NotFound', 404);

    const root = await loginRoot(app);
    await call(app, 'Customer/update_customer', { i_customer: globex, blocked: true }, root);
    const blocked = await expectFault(app, 'Session/impersonate', { realm: 'customer', id: globex }, admin.access_token, 'Server.AccessControl.forbidden', 403);
    assert.equal(blocked.faultstring, 'the principal is blocked');
    await call(app, 'Customer/update_customer', { i_customer: globex, blocked: false }, root);

    // None of the refusals opened a session or wrote an audit row.
    const rows = await auditEvents(app, 'session.impersonate');
    assert.ok(!rows.some((e) => e.entity_id === globex || e.entity_id === 999_999));
    const globexSessions = (await sessionsOf(app, (await open(app, 'customer', 'globex', CHANGED)).access_token)).session_list;
    assert.ok(!globexSessions.some((item) => item.impersonated_by !== undefined));
  });
});

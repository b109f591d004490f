import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildTestApp, ROOT_PASSWORD, type TestApp } from '../helpers/app.js';
import { databaseTargets } from '../helpers/databases.js';
import { call, rest } from '../helpers/rpc.js';

/**
 * SESSION_IDLE_TTL is a promise both ways: a session used within it never
 * ends for idleness, whatever the pattern of calls, and one left unused ends
 * soon after it (within a quarter more). Short enough here that the interval
 * at which `last_seen_at` is written is a large part of it.
 */
const IDLE = 6_000;

interface Tokens {
  access_token: string;
  refresh_token: string;
}

const setups = [
  { name: 'one replica, session cache off', cache: 0, replicas: 1 },
  { name: 'one replica, session cache on', cache: 10_000, replicas: 1 },
  { name: 'two replicas taking turns, caches on', cache: 10_000, replicas: 2 },
];

for (const target of databaseTargets()) {
  for (const setup of setups) {
    test(`a session used within SESSION_IDLE_TTL never ends for idleness; an unused one ends (${setup.name}) [${target}]`, async () => {
      const overrides = { SESSION_IDLE_TTL: `${IDLE / 1000}s`, SESSION_CACHE_SIZE: setup.cache, SESSION_CACHE_MAX_AGE: '1h' };
      const first = await buildTestApp(target, overrides);
      const replicas: TestApp[] = [first];
      try {
        if (setup.replicas === 2) replicas.push(await buildTestApp(target, overrides, first.db));
        let turn = 0;
        const next = () => replicas[turn++ % replicas.length] as TestApp;
        const advance = (ms: number) => replicas.forEach((r) => r.clock.advance(ms));
        let tokens = await call<Tokens>(first.app, 'Session/login', { login: 'root', password: ROOT_PASSWORD, realm: 'admin' });
        const ping = async () => (await rest(next().app, 'Session/ping', {}, tokens.access_token)).status;

        // Every 2 s for a minute.
        for (let i = 0; i < 30; i++) {
          advance(2_000);
          assert.equal(await ping(), 200, `ping at ${(i + 1) * 2} s`);
        }
        // A call, then a pause just short of the idle TTL: the call must count even when it wrote nothing.
        for (let i = 0; i < 5; i++) {
          advance(1_000);
          assert.equal(await ping(), 200);
          advance(IDLE - 100);
          assert.equal(await ping(), 200, `after a pause of ${IDLE - 100} ms`);
        }
        // A refresh is a use too, and sees the same window.
        advance(1_000);
        assert.equal(await ping(), 200);
        advance(IDLE - 100);
        const refreshed = await rest(next().app, 'Session/refresh_access_token', { refresh_token: tokens.refresh_token });
        assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
        tokens = refreshed.body as unknown as Tokens;
        advance(IDLE - 100);
        assert.equal(await ping(), 200);

        // Unused for the idle TTL and a quarter more: over, on every replica and for refresh too.
        advance(IDLE + IDLE / 4);
        for (const replica of replicas) assert.equal((await rest(replica.app, 'Session/ping', {}, tokens.access_token)).status, 401);
        const late = await rest(first.app, 'Session/refresh_access_token', { refresh_token: tokens.refresh_token });
        assert.equal(late.body.faultcode, 'Server.Session.refresh_token_invalid');
      } finally {
        for (const replica of replicas.slice(1)) await replica.app.close();
        await first.close();
      }
    });
  }
}

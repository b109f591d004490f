import assert from 'node:assert/strict';
import { isIP, connect } from 'node:net';
import { test } from 'node:test';
import { describeEachGuardStore, ROOT_PASSWORD, type TestApp } from '../helpers/app.js';

let unknown = 0;
/**
 * A login through a proxy: `remoteAddress` is the TCP peer, `xff` what reached the service in
 * X-Forwarded-For. Unless told otherwise, a wrong one naming another unknown login each time, so
 * that only the per-IP limits come into play.
 */
async function loginVia(t: TestApp, remoteAddress: string, xff: string | undefined, credentials = { login: `nobody-${++unknown}`, password: 'Wrong-pass1' }) {
  const res = await t.app.inject({
    method: 'POST',
    url: '/rest/Session/login',
    remoteAddress,
    headers: { 'content-type': 'application/json', ...(xff === undefined ? {} : { 'x-forwarded-for': xff }) },
    payload: { ...credentials, realm: 'admin' },
  });
  return { status: res.statusCode, faultcode: res.json().faultcode as string };
}

/** The client IP the service stored with its latest audit row. */
async function lastAuditIp(t: TestApp): Promise<string> {
  const row = (await t.app.db.knex('audit_log').orderBy('i_event', 'desc').first('ip')) as { ip: string };
  return row.ip;
}

let forged = 0;
/** A fresh address a client could put at the left of its own X-Forwarded-For. */
const forgedIp = () => `192.0.2.${++forged % 250}`;

describeEachGuardStore(
  'client IP: TRUST_PROXY=true is one proxy, not the client’s own header',
  (get) => {
    test('the right-most X-Forwarded-For entry is the client; a forged left-most one is ignored', async () => {
      const t = get();
      assert.equal((await loginVia(t, '10.0.0.1', `${forgedIp()}, 203.0.113.7`)).status, 401);
      assert.equal(await lastAuditIp(t), '203.0.113.7');
    });

    test('a client cannot dodge RATE_LIMIT_LOGIN by writing a new left-most address each time', async () => {
      const t = get();
      const answers = [];
      for (let i = 0; i < 5; i++) answers.push(await loginVia(t, '10.0.0.1', `${forgedIp()}, ${forgedIp()}, 203.0.113.8`));
      assert.deepEqual(
        answers.map((a) => a.faultcode),
        [
          'Server.Session.auth_failed',
          'Server.Session.auth_failed',
          'Server.Session.auth_failed',
          'Client.Request.rate_limited',
          'Client.Request.rate_limited',
        ],
      );
    });

    test('no header value answers 500 or reaches storage as anything but an IP address', async () => {
      const t = get();
      // The right-most entry is what the service reads: each case is what a broken proxy, or a client
      // reaching the service directly, could put there. [X-Forwarded-For, the IP expected]
      const cases: Array<[string, string | undefined]> = [
        ['x'.repeat(1000), undefined],
        [`1.2.3.${'4'.repeat(1000)}`, undefined],
        ['garbage', undefined],
        ['<script>alert(1)</script>', undefined],
        ['ｒｏｏｔ', undefined],
        ['01.02.03.04', undefined],
        ['1.2.3.4/24', undefined],
        ['203.0.113.9:4711', undefined],
        [', , ,', undefined],
        ['"1.2.3.4"', undefined],
        [`fe80::1%${'a'.repeat(500)}`, 'fe80::1'],
        ['::ffff:198.51.100.3', '198.51.100.3'],
        ['::FFFF:c633:6404', '198.51.100.4'],
        ['2001:DB8:0:0:0:0:0:7', '2001:db8::7'],
        [`${'9.9.9.9,'.repeat(100)}198.51.100.5`, '198.51.100.5'],
      ];
      for (const [i, [xff, expected]] of cases.entries()) {
        // Where the value is no IP address, the TCP peer is the client: one per case, so the rate limit stays out of the way.
        const peer = `10.1.0.${i + 1}`;
        const answer = await loginVia(t, peer, xff);
        assert.equal(answer.status, 401, xff.slice(0, 40));
        const stored = await lastAuditIp(t);
        assert.equal(stored, expected ?? peer, xff.slice(0, 40));
        assert.notEqual(isIP(stored), 0);
      }
    });

    test('X-Forwarded-For sent as several header lines is one list (RFC 9110 section 5.3), read from the right', async () => {
      const t = get();
      const address = await t.app.listen({ port: 0, host: '127.0.0.1' });
      const { port } = new URL(address);
      const body = JSON.stringify({ login: 'nobody-by-socket', password: 'Wrong-pass1', realm: 'admin' });
      const head = await new Promise<string>((resolve, reject) => {
        const socket = connect(Number(port), '127.0.0.1');
        let answer = '';
        socket.on('data', (chunk) => (answer += String(chunk)));
        socket.on('end', () => resolve(answer));
        socket.on('error', reject);
        socket.write(
          [
            'POST /rest/Session/login HTTP/1.1',
            'Host: localhost',
            'Content-Type: application/json',
            `X-Forwarded-For: ${forgedIp()}`,
            'X-Forwarded-For: 203.0.113.10',
            `Content-Length: ${Buffer.byteLength(body)}`,
            'Connection: close',
            '',
            body,
          ].join('\r\n'),
        );
      });
      assert.match(head, /^HTTP\/1\.1 401 /);
      assert.equal(await lastAuditIp(t), '203.0.113.10');
    });
  },
  { TRUST_PROXY: 'true', RATE_LIMIT_LOGIN: 3 },
);

describeEachGuardStore(
  'client IP: TRUST_PROXY lists the proxies',
  (get) => {
    test('behind the listed proxies, the right-most unlisted address is the client', async () => {
      const t = get();
      await loginVia(t, '10.0.0.1', `${forgedIp()}, 198.51.100.20, 10.0.0.2`);
      assert.equal(await lastAuditIp(t), '198.51.100.20');
    });

    test('a client reaching the service directly is its TCP peer, whatever it writes', async () => {
      const t = get();
      await loginVia(t, '198.51.100.21', '10.0.0.3');
      assert.equal(await lastAuditIp(t), '198.51.100.21');
    });

    test('a client cannot dodge the per-IP lockout with forged left-most addresses', async () => {
      const t = get();
      for (let i = 0; i < t.config.LOCKOUT_IP_THRESHOLD; i++) {
        assert.equal((await loginVia(t, '10.0.0.1', `${forgedIp()}, 198.51.100.22`)).faultcode, 'Server.Session.auth_failed');
      }
      const right = await loginVia(t, '10.0.0.1', `${forgedIp()}, 198.51.100.22`, { login: 'root', password: ROOT_PASSWORD });
      assert.deepEqual([right.status, right.faultcode], [429, 'Server.Session.cannot_login_brute_force_activity']);
      // Another client behind the same proxy is not affected.
      assert.equal((await loginVia(t, '10.0.0.1', '198.51.100.23')).faultcode, 'Server.Session.auth_failed');
    });
  },
  { TRUST_PROXY: '10.0.0.0/8', LOCKOUT_IP_THRESHOLD: 3 },
);

describeEachGuardStore(
  'client IP: TRUST_PROXY as a hop count',
  (get) => {
    test('with two proxies, the second address from the right is the client', async () => {
      const t = get();
      for (let i = 0; i < 4; i++) await loginVia(t, '10.0.0.1', `${forgedIp()}, 198.51.100.30, 10.0.0.2`);
      assert.equal(await lastAuditIp(t), '198.51.100.30');
      assert.equal((await loginVia(t, '10.0.0.1', `${forgedIp()}, 198.51.100.30, 10.0.0.2`)).faultcode, 'Client.Request.rate_limited');
    });
  },
  { TRUST_PROXY: '2', RATE_LIMIT_LOGIN: 4 },
);

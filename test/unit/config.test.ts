import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ConfigError, displayValue, loadConfig, parseDuration, parseSize } from '../../src/config/load.js';

test('defaults describe the embedded set-up', () => {
  const config = loadConfig({});
  assert.equal(config.PORT, 3000);
  assert.equal(config.HOST, '127.0.0.1');
  assert.equal(config.DATABASE_URL, 'sqlite:./data/billing-auth.sqlite');
  assert.equal(config.LOG_LEVEL, 'info');
  assert.equal(config.BOOTSTRAP_ADMIN_LOGIN, 'root');
  assert.equal(config.BCRYPT_COST, 12);
  assert.equal(config.BODY_LIMIT, 64 * 1024);
  assert.equal(config.SESSION_TTL, 12 * 3600_000);
  assert.equal(config.BOOTSTRAP_ADMIN_PASSWORD, undefined);
});

test('durations accept units; 0 is allowed; junk is not', () => {
  assert.equal(parseDuration('30s'), 30_000);
  assert.equal(parseDuration('15m'), 900_000);
  assert.equal(parseDuration('12h'), 43_200_000);
  assert.equal(parseDuration('30d'), 2_592_000_000);
  assert.equal(parseDuration('0'), 0);
  assert.equal(parseDuration('soon'), undefined);
  assert.equal(parseDuration('15'), undefined, 'a bare number is ambiguous');
  assert.equal(parseDuration('-5m'), undefined);
});

test('sizes accept units', () => {
  assert.equal(parseSize('64kb'), 65_536);
  assert.equal(parseSize('1mb'), 1_048_576);
  assert.equal(parseSize('lots'), undefined);
});

test('environment strings are typed and converted', () => {
  const config = loadConfig({ PORT: '8080', BCRYPT_COST: '10', TRUST_PROXY: 'true', SESSION_IDLE_TTL: '5m' });
  assert.equal(config.PORT, 8080);
  assert.equal(config.BCRYPT_COST, 10);
  assert.equal(config.TRUST_PROXY, 1, 'true is one proxy in front');
  assert.equal(config.SESSION_IDLE_TTL, 300_000);
});

test('every bad value is reported at once, naming the variable', () => {
  assert.throws(
    () => loadConfig({ PORT: 'abc', BCRYPT_COST: '2', SESSION_TTL: 'forever', DATABASE_URL: 'postgres://x', LOG_LEVEL: 'loud' }),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      const text = err.message;
      for (const key of ['PORT', 'BCRYPT_COST', 'SESSION_TTL', 'DATABASE_URL', 'LOG_LEVEL']) assert.match(text, new RegExp(key));
      assert.match(text, /"forever"/);
      assert.match(text, /30s, 15m/);
      return true;
    },
  );
});

test('CONFIG_FILE supplies values; the environment wins; unknown keys are refused', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ba-config-'));
  const file = join(dir, 'config.json');
  writeFileSync(file, JSON.stringify({ PORT: 4000, HOST: '0.0.0.0', SESSION_TTL: '1h' }));
  const config = loadConfig({ CONFIG_FILE: file, PORT: '5000' });
  assert.equal(config.PORT, 5000);
  assert.equal(config.HOST, '0.0.0.0');
  assert.equal(config.SESSION_TTL, 3600_000);

  writeFileSync(file, JSON.stringify({ PROT: 4000 }));
  assert.throws(() => loadConfig({ CONFIG_FILE: file }), /PROT is not a known setting/);
  writeFileSync(file, '{nope');
  assert.throws(() => loadConfig({ CONFIG_FILE: file }), /not valid JSON/);
  assert.throws(() => loadConfig({ CONFIG_FILE: join(dir, 'missing.json') }), /cannot be read: ENOENT/);
});

test('a broken CONFIG_FILE is never quoted in the error (it may hold secrets)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ba-config-'));
  const file = join(dir, 'broken.json');
  writeFileSync(file, '{"JWT_SECRET": "x",\n "BOOTSTRAP_ADMIN_PASSWORD": hunter2hunter2}');
  assert.throws(
    () => loadConfig({ CONFIG_FILE: file }),
    (err: Error) => err.message.includes('is not valid JSON') && !err.message.includes('hunter2'),
  );
});

test('a URL setting that fails validation is never echoed, wherever its password sits', () => {
  for (const [key, value] of [
    ['SMTP_URL', 'mailer:S3cretPass@mail.example.com:587'],
    ['DATABASE_URL', 'postgres://app:S3cretPass@db.example.com/app'],
    ['REDIS_URL', 'http://:S3cretPass@redis.example.com:6379'],
  ] as const) {
    assert.throws(
      () => loadConfig({ [key]: value }),
      (err: Error) => err.message.includes(key) && !err.message.includes('S3cretPass'),
      key,
    );
  }
});

test('server URLs that cannot be parsed are refused at once, without showing them (as serve would fail on them later)', () => {
  for (const [key, value] of [
    ['SMTP_URL', 'smtp://user:S3cret@mail host:587'],
    ['DATABASE_URL', 'mysql://billing:S3cret pass@[db:3306/x'],
    ['REDIS_URL', 'redis://:S3cret pass@[redis:6379'],
  ]) {
    assert.throws(
      () => loadConfig({ [key as string]: value }),
      (err: Error) => err.message.includes(`${key} must match format "url"`) && !err.message.includes('S3cret'),
      key,
    );
  }
  assert.equal(loadConfig({ SMTP_URL: 'smtp://mail%20user:S3cret%20pass@host:587' }).SMTP_URL, 'smtp://mail%20user:S3cret%20pass@host:587');
  assert.equal(loadConfig({ DATABASE_URL: 'sqlite::memory:' }).DATABASE_URL, 'sqlite::memory:');
});

test('lifetimes and locks cannot be 0; timer settings cannot exceed what a timer can wait', () => {
  for (const key of ['ACCESS_TOKEN_TTL', 'SESSION_TTL', 'SESSION_IDLE_TTL', 'MFA_TOKEN_TTL', 'LOCKOUT_DURATION', 'LOCKOUT_MAX']) {
    assert.throws(() => loadConfig({ [key]: '0' }), new RegExp(`${key} must be longer than 0`), key);
  }
  for (const key of ['SHUTDOWN_TIMEOUT', 'NOTIFY_POLL_INTERVAL']) {
    assert.throws(() => loadConfig({ [key]: '30d' }), new RegExp(`${key} must be at most 24d`), key);
  }
  const databaseTimeouts = ['DB_CONNECT_TIMEOUT', 'DB_ACQUIRE_TIMEOUT', 'DB_QUERY_TIMEOUT'] as const;
  for (const key of databaseTimeouts) {
    // 0 would fail every call, or wait for ever: what these bounds exist to prevent.
    assert.throws(() => loadConfig({ [key]: '0' }), new RegExp(`${key} must be longer than 0`), key);
    assert.throws(() => loadConfig({ [key]: '30d' }), new RegExp(`${key} must be at most 24d`), key);
    assert.equal(loadConfig({ [key]: '2s' })[key], 2000, key);
  }
  const defaults = loadConfig({});
  assert.deepEqual(
    databaseTimeouts.map((key) => defaults[key]),
    [3000, 5000, 5000],
    'a frozen database answers 503 within seconds by default',
  );
  assert.equal(
    loadConfig({ WEB_PASSWORD_EXPIRE: '0', NOTIFY_POLL_INTERVAL: '0', SESSION_TTL: '90d' }).SESSION_TTL,
    90 * 86_400_000,
    '0 where it means never, long lifetimes',
  );
});

test('TRUST_PROXY takes false, a hop count or proxy addresses; nothing else', () => {
  const trust = (value: string) => loadConfig({ TRUST_PROXY: value }).TRUST_PROXY;
  assert.equal(loadConfig({}).TRUST_PROXY, false);
  assert.equal(trust('false'), false);
  assert.equal(trust('0'), false);
  assert.equal(trust('TRUE'), 1, 'never "trust every entry": the left-most is the client\'s own');
  assert.equal(trust('2'), 2);
  assert.deepEqual(trust('10.0.0.0/8, 192.168.1.7,fd00::/8 ,loopback,172.16.0.0/255.240.0.0'), [
    '10.0.0.0/8',
    '192.168.1.7',
    'fd00::/8',
    'loopback',
    '172.16.0.0/255.240.0.0',
  ]);
  for (const bad of [
    'yes',
    '-1',
    '1.5',
    '33',
    '10.0.0.0/33',
    '10.0.0.0/0',
    '10.0.0.0/255.0.255.0',
    'proxy.example.com',
    '10.0.0.1,',
    '01.2.3.4',
    '1.2.3.4/8/8',
  ]) {
    assert.throws(
      () => trust(bad),
      (err: Error) => err instanceof ConfigError && /TRUST_PROXY/.test(err.message),
      bad,
    );
  }

  const dir = mkdtempSync(join(tmpdir(), 'ba-config-'));
  const file = join(dir, 'config.json');
  for (const [value, expected] of [
    [true, 1],
    [false, false],
    [3, 3],
    [
      ['10.0.0.0/8', 'uniquelocal'],
      ['10.0.0.0/8', 'uniquelocal'],
    ],
  ] as const) {
    writeFileSync(file, JSON.stringify({ TRUST_PROXY: value }));
    assert.deepEqual(loadConfig({ CONFIG_FILE: file }).TRUST_PROXY, expected, JSON.stringify(value));
  }
  for (const bad of [[], ['10.0.0.0/8', 'true'], 40, -1, 1.5]) {
    writeFileSync(file, JSON.stringify({ TRUST_PROXY: bad }));
    assert.throws(() => loadConfig({ CONFIG_FILE: file }), /TRUST_PROXY/, JSON.stringify(bad));
  }
});

test('client timeouts: 30s for a request, 10s for its headers; under a second, or headers longer than the request, are refused', () => {
  const defaults = loadConfig({});
  assert.equal(defaults.REQUEST_TIMEOUT, 30_000);
  assert.equal(defaults.HEADERS_TIMEOUT, 10_000);
  for (const key of ['REQUEST_TIMEOUT', 'HEADERS_TIMEOUT']) {
    assert.throws(() => loadConfig({ [key]: '500ms' }), new RegExp(`${key} must be at least 1s`), key);
    assert.throws(() => loadConfig({ [key]: '0' }), new RegExp(`${key} must be at least 1s`), key);
  }
  assert.throws(() => loadConfig({ REQUEST_TIMEOUT: '5s' }), /HEADERS_TIMEOUT must be at most REQUEST_TIMEOUT/);
  assert.equal(loadConfig({ REQUEST_TIMEOUT: '5s', HEADERS_TIMEOUT: '5s' }).REQUEST_TIMEOUT, 5_000);
});

test('ADMIN_SET_PASSWORD_MUST_CHANGE is on by default, takes true/false, and refuses anything else', () => {
  assert.equal(loadConfig({}).ADMIN_SET_PASSWORD_MUST_CHANGE, true);
  assert.equal(loadConfig({ ADMIN_SET_PASSWORD_MUST_CHANGE: 'false' }).ADMIN_SET_PASSWORD_MUST_CHANGE, false);
  for (const bad of ['yes', 'off', 'sometimes']) {
    assert.throws(
      () => loadConfig({ ADMIN_SET_PASSWORD_MUST_CHANGE: bad }),
      (err: unknown) => err instanceof ConfigError && /ADMIN_SET_PASSWORD_MUST_CHANGE/.test(err.message),
      bad,
    );
  }
});

test('password reset settings: a link the token can safely travel in, and lifetimes of minutes, not days', () => {
  const defaults = loadConfig({});
  assert.equal(defaults.PASSWORD_RESET_TTL, 30 * 60_000);
  assert.equal(defaults.PASSWORD_RESET_INTERVAL, 60_000);
  assert.equal(defaults.PASSWORD_RESET_URL, undefined, 'unset: the mail gives the token alone');
  for (const good of [
    'https://portal.example/reset?token={{token}}',
    'https://portal.example/reset#{{token}}',
    'https://portal.example/reset/{{token}}?lang=en',
    'http://localhost:8080/reset?token={{token}}',
    'http://127.0.0.1/reset?token={{token}}',
  ]) {
    assert.equal(loadConfig({ PASSWORD_RESET_URL: good }).PASSWORD_RESET_URL, good);
  }
  for (const [bad, problem] of [
    ['https://portal.example/reset', /exactly once/],
    ['https://portal.example/{{token}}/{{token}}', /exactly once/],
    ['portal.example/reset?token={{token}}', /not an absolute URL/],
    ['https://{{token}}.portal.example/reset', /path, query or fragment/],
    ['https://user:pass@portal.example/reset?token={{token}}', /user name or password/],
    ['http://portal.example/reset?token={{token}}', /https/],
    ['ftp://portal.example/reset?token={{token}}', /https/],
  ] as const) {
    assert.throws(
      () => loadConfig({ PASSWORD_RESET_URL: bad }),
      (err: unknown) => err instanceof ConfigError && new RegExp(`PASSWORD_RESET_URL .*${problem.source}`).test(err.message),
      bad,
    );
  }
  for (const key of ['PASSWORD_RESET_TTL', 'PASSWORD_RESET_INTERVAL']) {
    assert.throws(() => loadConfig({ [key]: '0' }), new RegExp(`${key} must be longer than 0`));
    assert.throws(() => loadConfig({ [key]: '25h' }), new RegExp(`${key} must be at most 24h`));
    assert.equal(loadConfig({ [key]: '24h' })[key as 'PASSWORD_RESET_TTL'], 86_400_000);
  }
});

test('PORTAL_RATE_LIMIT is a positive whole number of checks per minute', () => {
  assert.equal(loadConfig({}).PORTAL_RATE_LIMIT, 1200);
  assert.equal(loadConfig({ PORTAL_RATE_LIMIT: '5000' }).PORTAL_RATE_LIMIT, 5000);
  for (const bad of ['0', '-1', '1.5', 'many', '2000000']) {
    assert.throws(() => loadConfig({ PORTAL_RATE_LIMIT: bad }), /PORTAL_RATE_LIMIT/, bad);
  }
});

test('PUBLIC_URL: unset by default; an http(s) URL without user, query or fragment, stored without trailing slash', () => {
  assert.equal(loadConfig({}).PUBLIC_URL, undefined, 'unset: the documents name the listening address');
  for (const [good, stored] of [
    ['https://auth.example', 'https://auth.example'],
    ['https://auth.example/', 'https://auth.example'],
    ['https://auth.example/billing-auth/', 'https://auth.example/billing-auth'],
    ['http://10.0.0.5:3000', 'http://10.0.0.5:3000'],
  ] as const) {
    assert.equal(loadConfig({ PUBLIC_URL: good }).PUBLIC_URL, stored, good);
  }
  for (const [bad, problem] of [
    ['auth.example', /not an absolute URL/],
    ['ftp://auth.example', /http:\/\/ or https:\/\//],
    ['https://user:pass@auth.example', /user name or password/],
    ['https://auth.example/?x=1', /query or fragment/],
    ['https://auth.example/#docs', /query or fragment/],
    ['https://auth.example?', /query or fragment/],
  ] as const) {
    assert.throws(
      () => loadConfig({ PUBLIC_URL: bad }),
      (err: unknown) => err instanceof ConfigError && new RegExp(`PUBLIC_URL .*${problem.source}`).test(err.message),
      bad,
    );
  }
});

test('displayValue masks the password of REDIS_URL, as of the other server URLs', () => {
  const shown = displayValue('REDIS_URL', 'redis://default:S3cretPass@redis.example.com:6379/2');
  assert.ok(!shown.includes('S3cretPass'), shown);
  assert.match(shown, /^redis:\/\/default:\*+@redis\.example\.com:6379\/2$/);
});

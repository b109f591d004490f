import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { configProblems } from '../helpers/config.js';

test('the PortaBilling settings default to 48h tokens, no reuse grace and no extra listeners', () => {
  const config = loadConfig({});
  assert.equal(config.PORTABILLING_ACCESS_TOKEN_TTL, 48 * 3600_000);
  assert.equal(config.REFRESH_REUSE_GRACE, 0);
  assert.deepEqual(config.PORTABILLING_PORTS, []);
});

test('PORTABILLING_PORTS takes realm:port pairs', () => {
  const config = loadConfig({ PORTABILLING_PORTS: 'account:8445, customer:8444' });
  assert.deepEqual(config.PORTABILLING_PORTS, [
    { realm: 'account', port: 8445 },
    { realm: 'customer', port: 8444 },
  ]);
});

test('nonsense PortaBilling settings are refused, each named', () => {
  for (const value of [
    'account',
    'account:x',
    'nobody:8445',
    'account:70000',
    'account:8445,account:8446',
    'account:8445,customer:8445',
    'account:8445;customer:8444',
  ]) {
    const found = configProblems({ PORTABILLING_PORTS: value });
    assert.ok(
      found.some((p) => p.startsWith('PORTABILLING_PORTS')),
      `${value}: ${found.join('; ')}`,
    );
  }
  assert.ok(configProblems({ PORTABILLING_PORTS: 'account:3000' }).some((p) => /must not use PORT/.test(p)));
  assert.ok(configProblems({ PORTABILLING_ACCESS_TOKEN_TTL: '0' }).some((p) => p.startsWith('PORTABILLING_ACCESS_TOKEN_TTL must be longer than 0')));
  assert.ok(configProblems({ REFRESH_REUSE_GRACE: '10m' }).some((p) => p.startsWith('REFRESH_REUSE_GRACE must be at most 5m')));
  assert.deepEqual(configProblems({ REFRESH_REUSE_GRACE: '5m' }), []);
  assert.ok(configProblems({ REFRESH_REUSE_GRACE: 'soon' }).some((p) => p.startsWith('REFRESH_REUSE_GRACE')));
});

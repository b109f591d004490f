import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { configProblems } from '../helpers/config.js';

test('CORS_ORIGINS is empty by default: no origin may call from a browser', () => {
  assert.deepEqual(loadConfig({}).CORS_ORIGINS, []);
});

test('CORS_ORIGINS takes exact origins, kept as browsers send them in Origin', () => {
  const config = loadConfig({ CORS_ORIGINS: 'https://portal.example, http://localhost:5173,https://Portal.Example:8443,https://b.example:443' });
  assert.deepEqual(config.CORS_ORIGINS, ['https://portal.example', 'http://localhost:5173', 'https://portal.example:8443', 'https://b.example']);
});

test('CORS_ORIGINS refuses what is not an exact origin, naming the setting', () => {
  for (const value of [
    '*',
    'https://*.portal.example',
    'null',
    'portal.example',
    'https://portal.example/',
    'https://portal.example/app',
    'https://portal.example?x=1',
    'https://user@portal.example',
    'ftp://portal.example',
    'file:///tmp/page.html',
    'https://portal.example,,https://b.example',
    'https://portal.example,https://PORTAL.example',
  ]) {
    const found = configProblems({ CORS_ORIGINS: value });
    assert.ok(
      found.some((p) => p.startsWith('CORS_ORIGINS')),
      `${value}: ${found.join('; ')}`,
    );
  }
});

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { configSchema } from '../../src/config/schema.js';
import { LOGIN_DISALLOWED, loginKey } from '../../src/domain/login.js';
import { packageRoot } from '../../src/paths.js';

test('a login key folds compatibility forms and case, and is stable', () => {
  const cases: Array<[string, string]> = [
    ['ｒｏｏｔ', 'root'],
    ['ＲＯＯＴ', 'root'],
    ['ʳᵒᵒᵗ', 'root'],
    ['ﬁona', 'fiona'],
    ['\u212Aelvin', 'kelvin'], // KELVIN SIGN
    ['Ｊｏｓé', 'josé'],
    ['JOSE\u0301', 'josé'], // combining acute composes
    ['straße', 'straße'],
    ['STRAẞE', 'straße'],
    ['ΟΔΟΣ', 'οδος'],
  ];
  for (const [typed, key] of cases) {
    assert.equal(loginKey(typed), key, typed);
    assert.equal(loginKey(key), key, `${key} is its own key`);
  }
});

test('the schema, the config and the key check refuse the same characters', () => {
  const common = JSON.parse(readFileSync(join(packageRoot, 'schemas/common.json'), 'utf8')) as { $defs: { login: { pattern: string } } };
  const expected = `^[^${LOGIN_DISALLOWED.source.slice(1, -1)}]+$`;
  assert.equal(common.$defs.login.pattern, expected);
  assert.equal(configSchema.properties.BOOTSTRAP_ADMIN_LOGIN.pattern, expected);
});

test('BOOTSTRAP_ADMIN_LOGIN follows the rules of any login', () => {
  assert.equal(loadConfig({ BOOTSTRAP_ADMIN_LOGIN: 'Ｒｏｏｔ' }).BOOTSTRAP_ADMIN_LOGIN, 'Ｒｏｏｔ');
  for (const bad of ['ro\u200Bot', ' root', 'a\u00A8', 'ﷺﷺﷺﷺ']) assert.throws(() => loadConfig({ BOOTSTRAP_ADMIN_LOGIN: bad }), /BOOTSTRAP_ADMIN_LOGIN/, bad);
});

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { registeredMethods } from '../../src/cli/docs.js';
import { configSchema } from '../../src/config/schema.js';
import { FAULTS } from '../../src/rpc/faults.js';
import { packageRoot } from '../../src/paths.js';

const readme = readFileSync(join(packageRoot, 'README.md'), 'utf8');

test('README documents every configuration variable', () => {
  for (const key of Object.keys(configSchema.properties)) assert.ok(readme.includes(`\`${key}\``), `README lacks ${key}`);
});

test('README lists every method', () => {
  for (const method of registeredMethods()) assert.ok(readme.includes(`\`${method.name}\``), `README lacks ${method.name}`);
});

test('README lists every fault code', () => {
  for (const code of Object.keys(FAULTS)) assert.ok(readme.includes(`\`${code}\``), `README lacks ${code}`);
});

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { validate } from '@readme/openapi-parser';
import { parse } from 'yaml';
import { committedPublicUrl, registeredMethods } from '../../src/cli/docs.js';
import { openApiYaml } from '../../src/docs/openapi.js';
import { packageRoot } from '../../src/paths.js';
import { describeEachDatabase } from '../helpers/app.js';
import { rpc } from '../helpers/rpc.js';

const committed = readFileSync(join(packageRoot, 'openapi.yaml'), 'utf8');

test('openapi.yaml is what the registry generates (run `npm run gen` after changing methods or schemas)', () => {
  assert.equal(committed, openApiYaml(registeredMethods(), committedPublicUrl));
});

test('openapi.yaml is a valid OpenAPI 3.1 document', async () => {
  const result = await validate(parse(committed));
  assert.equal(result.valid, true, JSON.stringify('errors' in result ? result.errors : [], null, 2));
});

test('openapi.yaml describes /rpc and every method at /rest', () => {
  const doc = parse(committed) as { paths: Record<string, unknown> };
  assert.ok(doc.paths['/rpc']);
  for (const method of registeredMethods()) {
    if (method.name === 'rpc.discover') continue;
    assert.ok(doc.paths[`/rest/${method.name}`], `missing /rest/${method.name}`);
  }
});

test('openapi.yaml documents Retry-After on every 429 answer', () => {
  type Operation = { post: { responses: Record<string, { headers?: Record<string, unknown> }> } };
  const doc = parse(committed) as { paths: Record<string, Operation> };
  const limited = Object.entries(doc.paths).filter(([path, op]) => path.startsWith('/rest/') && op.post.responses['429']);
  assert.ok(limited.some(([path]) => path === '/rest/Session/login'));
  for (const [path, op] of limited) assert.ok(op.post.responses['429']?.headers?.['Retry-After'], path);
});

describeEachDatabase('served documents', (get) => {
  test('GET /openapi.yaml and GET /openrpc.json, and rpc.discover', async () => {
    const yamlRes = await get().app.inject({ method: 'GET', url: '/openapi.yaml' });
    assert.equal(yamlRes.statusCode, 200);
    assert.match(String(yamlRes.headers['content-type']), /yaml/);
    assert.equal(yamlRes.body, committed);

    const openrpc = await get().app.inject({ method: 'GET', url: '/openrpc.json' });
    assert.equal(openrpc.statusCode, 200);
    const doc = openrpc.json() as { methods: Array<{ name: string; params: Array<{ name: string; required: boolean }> }> };
    const names = doc.methods.map((m) => m.name);
    for (const method of registeredMethods()) assert.ok(names.includes(method.name));
    const loginDoc = doc.methods.find((m) => m.name === 'Session/login');
    assert.deepEqual(
      loginDoc?.params.map((p) => [p.name, p.required]),
      [
        ['login', true],
        ['password', true],
        ['realm', true],
      ],
    );

    const discovered = await rpc(get().app, 'rpc.discover');
    assert.deepEqual(discovered.result, openrpc.json());
  });
});

test('src/rpc/generated/method-types.ts is what the schemas generate (run `npm run gen`)', async () => {
  const { methodTypesSource } = await import('../../src/docs/types.js');
  const { methodTypesPath } = await import('../../src/cli/docs.js');
  assert.equal(readFileSync(methodTypesPath, 'utf8'), await methodTypesSource(registeredMethods()));
});

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { validate } from '@readme/openapi-parser';
import { parse } from 'yaml';
import { committedPublicUrl, registeredMethods } from '../../src/cli/docs.js';
import { openApiYaml } from '../../src/docs/openapi.js';
import { packageRoot } from '../../src/paths.js';
import { buildTestApp, describeEachDatabase } from '../helpers/app.js';
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

test('every operation of openapi.yaml has its own operationId', () => {
  const doc = parse(committed) as { paths: Record<string, Record<string, { operationId?: string }>> };
  const ids = Object.entries(doc.paths).flatMap(([path, ops]) => Object.entries(ops).map(([verb, op]) => [`${verb} ${path}`, op.operationId]));
  for (const [where, id] of ids) assert.ok(id, `${where} has no operationId`);
  assert.equal(new Set(ids.map(([, id]) => id)).size, ids.length, 'operationIds are unique');
  assert.equal(doc.paths['/rest/Session/login']?.post?.operationId, 'Session.login');
  assert.equal(doc.paths['/rpc']?.post?.operationId, 'rpc');
});

test('openapi.yaml describes the 413 (body over BODY_LIMIT) and 415 (not JSON) answers of /rpc', () => {
  const doc = parse(committed) as { paths: { '/rpc': { post: { responses: Record<string, { description: string }> } } } };
  const { responses } = doc.paths['/rpc'].post;
  assert.match(responses['413']?.description ?? '', /Client\.Request\.too_large.*BODY_LIMIT/);
  assert.match(responses['415']?.description ?? '', /Client\.Request\.unsupported_media_type/);
});

test('the committed openapi.yaml names the default server; the served documents name PUBLIC_URL', async () => {
  assert.deepEqual(
    (parse(committed) as { servers: Array<{ url: string }> }).servers.map((s) => s.url),
    ['http://127.0.0.1:3000'],
  );
  const t = await buildTestApp('sqlite', { PUBLIC_URL: 'https://auth.example/billing/' });
  try {
    const served = parse((await t.app.inject({ method: 'GET', url: '/openapi.yaml' })).body) as { servers: Array<{ url: string }> };
    assert.deepEqual(
      served.servers.map((s) => s.url),
      ['https://auth.example/billing'],
    );
    const openrpc = (await t.app.inject({ method: 'GET', url: '/openrpc.json' })).json() as { servers: Array<{ url: string }> };
    assert.deepEqual(
      openrpc.servers.map((s) => s.url),
      ['https://auth.example/billing/rpc'],
    );
  } finally {
    await t.close();
  }
});

test('without PUBLIC_URL the served documents name the address the service listens on', async () => {
  const t = await buildTestApp('sqlite', { PORT: 0 });
  try {
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = t.app.server.address() as { port: number };
    const res = await fetch(`http://127.0.0.1:${port}/openapi.yaml`);
    const served = parse(await res.text()) as { servers: Array<{ url: string }> };
    assert.deepEqual(
      served.servers.map((s) => s.url),
      [`http://127.0.0.1:${port}`],
    );
  } finally {
    await t.close();
  }
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

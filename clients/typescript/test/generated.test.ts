import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { registeredMethods } from '../../../src/cli/docs.js';
import { clientSources } from '../../../src/docs/client.js';

test('clients/typescript/src/generated/ is what the schemas and the method registry generate (run `npm run gen`)', async () => {
  for (const [path, source] of Object.entries(await clientSources(registeredMethods()))) {
    assert.equal(readFileSync(path, 'utf8'), source, `${path} is stale: run \`npm run gen\``);
  }
});

test('the client has one function per method the service answers over REST', async () => {
  const { createClient, METHODS } = await import('@billing-auth/client');
  const rest = registeredMethods()
    .map((m) => m.name)
    .filter((name) => name !== 'rpc.discover');
  assert.deepEqual(Object.keys(METHODS).sort(), rest.sort());
  const client = createClient({ baseUrl: 'http://127.0.0.1:1', fetch: () => Promise.reject(new Error('not called')) }) as unknown as Record<string, Record<string, unknown>>;
  for (const name of rest) {
    const [service, method] = name.split('/') as [string, string];
    assert.equal(typeof client[service]?.[method], 'function', name);
  }
});

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { BillingAuthFault, BillingAuthTransportError, createClient, memoryStorage, type FetchLike, type SessionTokens } from '@billing-auth/client';

const run = promisify(execFile);

/** A fetch that answers from a function, recording the requests. */
function stubFetch(answer: (url: string, body: string) => { status: number; body: string; headers?: Record<string, string> }) {
  const requests: { url: string; headers: Record<string, string>; body: string }[] = [];
  const fetch: FetchLike = async (url, init) => {
    init.signal?.throwIfAborted();
    requests.push({ url, headers: init.headers, body: init.body });
    const a = answer(url, init.body);
    return {
      status: a.status,
      ok: a.status >= 200 && a.status < 300,
      headers: { get: (name: string) => a.headers?.[name.toLowerCase()] ?? null },
      text: async () => a.body,
    };
  };
  return { fetch, requests };
}

const tokens = (over: Partial<SessionTokens> = {}): SessionTokens => ({
  access_token: 'access-1',
  refresh_token: 'refresh-1',
  expires_at: new Date(Date.now() + 600_000).toISOString(),
  session_expires_at: new Date(Date.now() + 3_600_000).toISOString(),
  session_id: '6f1c1a52-7f1e-4a43-9a59-111111111111',
  restricted: false,
  ...over,
});

test('calls POST <baseUrl>/rest/<Service>/<method> with JSON, the bearer token only where the method takes one, and the configured headers', async () => {
  const { fetch, requests } = stubFetch(() => ({ status: 200, body: '{"ok":1}' }));
  const client = createClient({ baseUrl: 'https://auth.example/', fetch, storage: memoryStorage(tokens()), headers: { 'x-portal-client': 'pc' } });
  await client.Session.ping();
  await client.Session.login({ login: 'a', password: 'b', realm: 'account' });
  await client.Session.get_password_policy({ realm: 'account' }, { headers: { 'x-end-user-ip': '192.0.2.1' } });
  assert.deepEqual(
    requests.map((r) => r.url),
    ['https://auth.example/rest/Session/ping', 'https://auth.example/rest/Session/login', 'https://auth.example/rest/Session/get_password_policy'],
  );
  assert.equal(requests[0]?.headers.authorization, 'Bearer access-1');
  assert.equal(requests[0]?.headers['content-type'], 'application/json');
  assert.equal(requests[0]?.body, '{}', 'a method without params sends an empty object');
  assert.equal(requests[1]?.headers.authorization, undefined, 'a login never carries the old token');
  assert.equal(requests[2]?.headers.authorization, 'Bearer access-1', 'an optional session is sent when there is one');
  assert.equal(requests[2]?.headers['x-end-user-ip'], '192.0.2.1');
  for (const r of requests) assert.equal(r.headers['x-portal-client'], 'pc');
});

test('a method that takes a session when there is one is still called when the refresh is refused', async () => {
  const { fetch, requests } = stubFetch((url) =>
    url.endsWith('/refresh_access_token')
      ? { status: 401, body: '{"faultcode":"Server.Session.refresh_token_invalid","faultstring":"log in again"}' }
      : { status: 200, body: '{"min_length":8}' },
  );
  const ends: string[] = [];
  const client = createClient({
    baseUrl: 'https://auth.example',
    fetch,
    storage: memoryStorage(tokens({ expires_at: new Date(Date.now() + 1000).toISOString() })),
    onSessionEnded: (reason) => ends.push(reason),
  });
  await client.Session.get_password_policy({ realm: 'account' });
  assert.deepEqual(
    requests.map((r) => [r.url.replace('https://auth.example/rest/', ''), r.headers.authorization]),
    [
      ['Session/refresh_access_token', undefined],
      ['Session/get_password_policy', undefined],
    ],
  );
  assert.deepEqual(ends, ['ended']);
});

test('an answer that is not the service (a proxy page, no fault body) is a BillingAuthTransportError with the status', async () => {
  const html = createClient({ baseUrl: 'https://auth.example', fetch: stubFetch(() => ({ status: 502, body: '<html>Bad gateway</html>' })).fetch });
  const err = await html.Session.ping().catch((e: unknown) => e);
  assert.ok(err instanceof BillingAuthTransportError);
  assert.equal(err.status, 502);
  assert.ok(!(err instanceof BillingAuthFault));

  const noFault = createClient({ baseUrl: 'https://auth.example', fetch: stubFetch(() => ({ status: 500, body: '{"message":"x"}' })).fetch });
  assert.ok((await noFault.Session.ping().catch((e: unknown) => e)) instanceof BillingAuthTransportError);

  const down = createClient({ baseUrl: 'https://auth.example', fetch: () => Promise.reject(new TypeError('fetch failed')) });
  const unreachable = await down.Session.ping().catch((e: unknown) => e);
  assert.ok(unreachable instanceof BillingAuthTransportError);
  assert.equal(unreachable.status, undefined);
});

test('a cancelled call rejects with the abort, not a transport error', async () => {
  const client = createClient({ baseUrl: 'https://auth.example', fetch: stubFetch(() => ({ status: 200, body: '{}' })).fetch });
  const controller = new AbortController();
  controller.abort();
  const err = await client.Session.ping({}, { signal: controller.signal }).catch((e: unknown) => e);
  assert.ok(err instanceof Error);
  assert.equal(err.name, 'AbortError');
});

test('a fault keeps its details, status and request id; a code this client does not know is still a fault', async () => {
  const { fetch } = stubFetch(() => ({
    status: 429,
    body: '{"faultcode":"Client.Request.rate_limited","faultstring":"Too many","retry_after":30}',
    headers: { 'x-request-id': 'req-1' },
  }));
  const err = await createClient({ baseUrl: 'https://auth.example', fetch }).Session.login({ login: 'a', password: 'b', realm: 'account' }).catch((e: unknown) => e);
  assert.ok(BillingAuthFault.is(err, 'Client.Request.rate_limited'));
  assert.deepEqual(err.details, { retry_after: 30 });
  assert.equal(err.requestId, 'req-1');
  assert.equal(err.status, 429);
  assert.equal(err.is('Server.Session.auth_failed'), false);

  const newer = stubFetch(() => ({ status: 409, body: '{"faultcode":"Server.Something.new","faultstring":"New"}' }));
  const unknown = await createClient({ baseUrl: 'https://auth.example', fetch: newer.fetch }).Session.ping().catch((e: unknown) => e);
  assert.ok(unknown instanceof BillingAuthFault);
  assert.equal(unknown.faultcode, 'Server.Something.new');
  assert.equal(BillingAuthFault.isKnownCode(unknown.faultcode), false);
});

test('a failing onSessionEnded handler is reported as uncaught, not as the outcome of the call that noticed the end', async () => {
  // In a process of its own: the test runner treats an uncaught exception as a failed test.
  const script = `
    import { createClient, memoryStorage } from ${JSON.stringify(new URL('../src/index.ts', import.meta.url).href)};
    const seen = [];
    process.on('uncaughtException', (err) => seen.push(err.message));
    const fetch = async () => ({ status: 401, ok: false, headers: { get: () => null },
      text: async () => '{"faultcode":"Server.Session.check_auth.auth_failed","faultstring":"ended"}' });
    const client = createClient({ baseUrl: 'https://auth.example', fetch, storage: memoryStorage(${JSON.stringify(tokens())}),
      onSessionEnded: () => { throw new Error('handler bug'); } });
    const outcome = await client.Session.ping().then(() => 'resolved', (err) => err.faultcode);
    await new Promise((resolve) => setImmediate(resolve));
    console.log(JSON.stringify({ outcome, seen, stored: client.session.get() ?? null }));
  `;
  const { stdout } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script]);
  assert.deepEqual(JSON.parse(stdout), { outcome: 'Server.Session.check_auth.auth_failed', seen: ['handler bug'], stored: null });
});

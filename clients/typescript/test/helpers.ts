import { TOTP, Secret } from 'otpauth';
import { createClient, memoryStorage, type BillingAuthClient, type ClientOptions, type FetchLike } from '@billing-auth/client';
import { buildTestApp, ROOT_PASSWORD, type Overrides, type TestApp } from '../../../test/helpers/app.js';

/** The real service on SQLite, listening on a free port of 127.0.0.1 (the client talks to it over HTTP). */
export async function startService(overrides: Overrides = {}): Promise<{ t: TestApp; baseUrl: string }> {
  const t = await buildTestApp('sqlite', overrides);
  const baseUrl = await t.app.listen({ port: 0, host: '127.0.0.1' });
  return { t, baseUrl };
}

/** Every request the client put on the wire, by method (`Service/method`). */
export class WireLog {
  readonly calls: string[] = [];
  constructor(private readonly inner: FetchLike = (url, init) => fetch(url, init)) {}
  readonly fetch: FetchLike = (url, init) => {
    this.calls.push(new URL(url).pathname.replace(/^\/rest\//, ''));
    return this.inner(url, init);
  };
  count(method: string): number {
    return this.calls.filter((c) => c === method).length;
  }
}

/** How many calls of `method` the service received, counted from its own request log. */
export function servedCount(t: TestApp, method: string): number {
  return t.logs.filter((line) => line.includes('"msg":"incoming request"') && line.includes(`"url":"/rest/${method}"`)).length;
}

/** A client whose clock is the service's test clock, so expiry is judged on the same time line. */
export function clientFor(t: TestApp, baseUrl: string, options: Partial<ClientOptions> = {}): BillingAuthClient {
  return createClient({ baseUrl, storage: memoryStorage(), now: () => t.clock.now(), ...options });
}

export async function rootClient(t: TestApp, baseUrl: string): Promise<BillingAuthClient> {
  const root = clientFor(t, baseUrl);
  const answer = await root.Session.login({ login: 'root', password: ROOT_PASSWORD, realm: 'admin' });
  if (answer.status !== 'authenticated') throw new Error(`root login answered ${answer.status}`);
  return root;
}

/** The TOTP code of `secret` at `ms`, computed by an independent implementation (otpauth). */
export const totpAt = (secret: string, ms: number): string => new TOTP({ secret: Secret.fromBase32(secret) }).generate({ timestamp: ms });

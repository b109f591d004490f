import type { CallOptions } from './call-options.js';
import { BillingAuthFault, BillingAuthTransportError } from './fault.js';
import type { FaultCode, FaultDetails } from './generated/faults.js';
import { METHODS, type ArgsOf, type MethodName, type ResultOf, type Services } from './generated/methods.js';
import { memoryStorage, type SessionTokens, type TokenStorage } from './storage.js';

/** The part of `fetch` the client uses: the global `fetch` of browsers and Node.js 20+ fits. */
export type FetchLike = (
  url: string,
  init: { method: string; headers: Record<string, string>; body: string; signal?: AbortSignal },
) => Promise<{ status: number; ok: boolean; headers: { get(name: string): string | null }; text(): Promise<string> }>;

/**
 * Why a session ended:
 * - `logged_out`: this client called Session/logout;
 * - `expired`: the session reached its end (`session_expires_at`, SESSION_TTL);
 * - `ended`: the service no longer takes it: signed out from another device or everywhere, revoked,
 *   the principal blocked or its password set, idle too long (SESSION_IDLE_TTL), or its refresh
 *   token presented twice.
 */
export type SessionEndReason = 'logged_out' | 'expired' | 'ended';

export interface ClientOptions {
  /** Where the service answers, e.g. `https://auth.example` (its `/rest/<Service>/<method>` paths are used). */
  baseUrl: string;
  /** Where the tokens live: `memoryStorage()` (the default), `localStorageStorage()`, or your own. */
  storage?: TokenStorage;
  /** Defaults to the global `fetch`. */
  fetch?: FetchLike;
  /**
   * Called once when the stored session ends (its tokens are already cleared): send the user to the
   * sign-in page. `fault` is the service's answer that said so, if one did.
   */
  onSessionEnded?: (reason: SessionEndReason, fault?: BillingAuthFault) => void;
  /** Refresh the access token when it has less than this left (default 60 seconds). */
  refreshMarginSeconds?: number;
  /** Headers sent with every call (a portal server's `X-Portal-Client`, for one). */
  headers?: Record<string, string>;
  /** The current time in milliseconds (default `Date.now`), against which token expiry is judged. */
  now?: () => number;
}

/** The stored session, as the client keeps it. */
export interface SessionHandle {
  /** The tokens of the current session, if any. */
  get(): SessionTokens | undefined;
  /** Adopt tokens obtained elsewhere (e.g. handed over by a portal's server). */
  set(tokens: SessionTokens): void;
  /** Forget the tokens (the session stays alive at the service: call Session/logout to end it). */
  clear(): void;
}

export type BillingAuthClient = Services & {
  /** Any method by name, typed like its namespaced function: `client.call('Session/login', {...})`. */
  call<M extends MethodName>(method: M, ...args: ArgsOf<M>): Promise<ResultOf<M>>;
  session: SessionHandle;
  /**
   * Refresh the tokens now (one refresh at a time, shared with any already under way). Resolves to
   * the new tokens, or undefined when there is no session; rejects with the service's fault when the
   * session has ended (after `onSessionEnded`).
   */
  refresh(): Promise<SessionTokens | undefined>;
};

/** Methods whose answer carries the caller's own new session tokens (Session/impersonate's are someone else's). */
const ISSUES_TOKENS: ReadonlySet<string> = new Set(['Session/login', 'Session/verify_otp', 'Session/refresh_access_token']);

/**
 * The session tokens in an answer that carries them (Session/login or Session/verify_otp when
 * authenticated or restricted, Session/refresh_access_token, Session/impersonate); undefined for
 * one that does not (`otp_required`, ...). Hand an impersonation's tokens to a second client:
 * `createClient({ baseUrl, storage: memoryStorage(sessionTokensOf(answer)) })`.
 */
export function sessionTokensOf(answer: unknown): SessionTokens | undefined {
  const r = answer as Record<string, unknown> | null;
  if (!r || typeof r.access_token !== 'string' || typeof r.refresh_token !== 'string') return undefined;
  return {
    access_token: r.access_token,
    refresh_token: r.refresh_token,
    expires_at: String(r.expires_at),
    session_expires_at: String(r.session_expires_at),
    session_id: String(r.session_id),
    restricted: r.status === 'password_change_required',
  };
}

export function createClient(options: ClientOptions): BillingAuthClient {
  const base = options.baseUrl.replace(/\/+$/, '');
  const storage = options.storage ?? memoryStorage();
  const fetchImpl: FetchLike | undefined = options.fetch ?? (globalThis as { fetch?: FetchLike }).fetch?.bind(globalThis);
  if (!fetchImpl) throw new Error('createClient: no fetch here; pass options.fetch');
  const marginMs = (options.refreshMarginSeconds ?? 60) * 1000;
  const now = options.now ?? Date.now;
  let refreshing: Promise<SessionTokens | undefined> | undefined;

  /** One HTTP call: the result, or a BillingAuthFault / BillingAuthTransportError. */
  async function send(method: string, params: unknown, token: string | undefined, call: CallOptions): Promise<unknown> {
    let res: Awaited<ReturnType<FetchLike>>;
    try {
      res = await fetchImpl!(`${base}/rest/${method}`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...options.headers,
          ...call.headers,
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
        body: JSON.stringify(params ?? {}),
        ...(call.signal ? { signal: call.signal } : {}),
      });
    } catch (err) {
      if (call.signal?.aborted) throw err;
      throw new BillingAuthTransportError(method, `the service did not answer (${err instanceof Error ? err.message : String(err)})`, { cause: err });
    }
    const text = await res.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new BillingAuthTransportError(method, `HTTP ${res.status} with a body that is not JSON`, { status: res.status });
    }
    if (res.ok) return body;
    const fault = body as Record<string, unknown> | null;
    if (!fault || typeof fault.faultcode !== 'string') throw new BillingAuthTransportError(method, `HTTP ${res.status} without a fault`, { status: res.status });
    const { faultcode, faultstring, ...details } = fault;
    throw new BillingAuthFault({
      faultcode: faultcode as FaultCode,
      faultstring: typeof faultstring === 'string' ? faultstring : '',
      details: details as FaultDetails[FaultCode],
      status: res.status,
      method,
      requestId: res.headers.get('x-request-id') ?? undefined,
    });
  }

  /** The session `tokens` belonged to has ended: forget it and say so, once (later news of the same session finds it gone). */
  function ended(tokens: SessionTokens, reason: SessionEndReason, fault?: BillingAuthFault): void {
    if (storage.get()?.session_id !== tokens.session_id) return;
    storage.clear();
    try {
      options.onSessionEnded?.(reason, fault);
    } catch (err) {
      // The portal's handler failed: report it as uncaught (as an event listener's would be)
      // rather than turning it into the outcome of whichever call noticed the end.
      queueMicrotask(() => {
        throw err;
      });
    }
  }

  async function runRefresh(stale: SessionTokens): Promise<SessionTokens | undefined> {
    const current = storage.get();
    if (!current) return undefined;
    // Someone else (another call, another tab) already traded this refresh token: presenting it
    // again would look like theft and end the session.
    if (current.refresh_token !== stale.refresh_token) return current;
    try {
      const tokens = sessionTokensOf(await send('Session/refresh_access_token', { refresh_token: current.refresh_token }, undefined, {}));
      if (!tokens) throw new BillingAuthTransportError('Session/refresh_access_token', 'the answer carries no tokens');
      if (storage.get()?.session_id === current.session_id) storage.set(tokens);
      return tokens;
    } catch (err) {
      if (BillingAuthFault.is(err, 'Server.Session.refresh_token_invalid')) {
        ended(current, Date.parse(current.session_expires_at) <= now() ? 'expired' : 'ended', err);
      }
      throw err;
    }
  }

  /** Trades `stale`'s refresh token for new tokens: one refresh in flight, whoever asks while it runs waits for it. */
  function refreshFrom(stale: SessionTokens): Promise<SessionTokens | undefined> {
    if (!refreshing) {
      const run = () => runRefresh(stale);
      refreshing = (storage.lock ? storage.lock(run) : run()).finally(() => {
        refreshing = undefined;
      });
    }
    return refreshing;
  }

  /** The stored tokens, refreshed first when the access token is within the margin of its expiry. */
  async function freshTokens(): Promise<SessionTokens | undefined> {
    if (refreshing) return refreshing;
    const tokens = storage.get();
    if (!tokens) return undefined;
    if (Date.parse(tokens.expires_at) - marginMs > now()) return tokens;
    return refreshFrom(tokens);
  }

  async function call(method: string, params: unknown, callOptions: CallOptions = {}): Promise<unknown> {
    const access = (METHODS as Record<string, { access: string }>)[method]?.access ?? 'session';
    let tokens: SessionTokens | undefined;
    if (access === 'session') tokens = await freshTokens();
    // A method that only reads the session when there is one is still answered without it: a
    // refresh that fails (and has reported the end of the session) does not fail this call.
    else if (access === 'optional') tokens = await freshTokens().catch(() => undefined);
    let result: unknown;
    try {
      try {
        result = await send(method, params, tokens?.access_token, callOptions);
      } catch (err) {
        // The token was refused as expired or malformed although it looked fresh here (this clock is
        // behind the service's, or the stored token is damaged): one refresh, one retry. The call was
        // refused before it ran, so running it again is safe.
        if (!tokens || access !== 'session' || !BillingAuthFault.is(err, 'Client.Session.check_auth.failed_to_process_access_token')) throw err;
        tokens = await refreshFrom(tokens);
        if (!tokens) throw err;
        result = await send(method, params, tokens.access_token, callOptions);
      }
    } catch (err) {
      if (tokens && BillingAuthFault.is(err, 'Server.Session.check_auth.auth_failed')) {
        ended(tokens, Date.parse(tokens.session_expires_at) <= now() ? 'expired' : 'ended', err);
      }
      throw err;
    }
    if (ISSUES_TOKENS.has(method)) {
      const issued = sessionTokensOf(result);
      if (issued) storage.set(issued);
    } else if (method === 'Session/logout' && tokens) {
      ended(tokens, 'logged_out');
    } else if (method === 'Session/change_password' && tokens) {
      // A restricted session becomes a full one with the same tokens once its password is changed.
      const current = storage.get();
      if (current?.session_id === tokens.session_id && current.restricted) storage.set({ ...current, restricted: false });
    }
    return result;
  }

  const services: Record<string, Record<string, (params?: unknown, o?: CallOptions) => Promise<unknown>>> = {};
  for (const name of Object.keys(METHODS)) {
    const [service, method] = name.split('/') as [string, string];
    (services[service] ??= {})[method] = (params, o) => call(name, params, o);
  }

  return {
    ...(services as unknown as Services),
    call: ((method: string, params?: unknown, o?: CallOptions) => call(method, params, o)) as BillingAuthClient['call'],
    session: {
      get: () => storage.get(),
      set: (tokens) => storage.set(tokens),
      clear: () => storage.clear(),
    },
    refresh: async () => {
      if (refreshing) return refreshing;
      const tokens = storage.get();
      return tokens ? refreshFrom(tokens) : undefined;
    },
  };
}

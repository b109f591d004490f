/**
 * What the client keeps of a session: the tokens of the last login, `verify_otp` or refresh.
 * The access token goes into `Authorization: Bearer`; the refresh token is traded for new tokens
 * before `expires_at` (it is single use: the service rotates it on every refresh).
 */
export interface SessionTokens {
  access_token: string;
  refresh_token: string;
  /** When the access token expires (ISO 8601). */
  expires_at: string;
  /** When the session itself ends, whatever the refreshes (ISO 8601). */
  session_expires_at: string;
  session_id: string;
  /** True while the password must be changed (`status: "password_change_required"`): only Session/change_password and a few others answer. */
  restricted: boolean;
}

/**
 * Where the client keeps the tokens. Synchronous, so a read never races a refresh; a portal whose
 * own store is asynchronous (a server-side session) loads the tokens into `memoryStorage(tokens)`
 * per request and saves `client.session.get()` afterwards (or implements these three on its
 * request's session object).
 */
export interface TokenStorage {
  get(): SessionTokens | undefined;
  set(tokens: SessionTokens): void;
  clear(): void;
  /**
   * Optional: runs `fn` while holding a lock shared with every other client of the same stored
   * tokens (other browser tabs), so that only one of them refreshes. A refresh token is single use
   * and presenting it twice ends the session, so storage shared across tabs needs this.
   */
  lock?<T>(fn: () => Promise<T>): Promise<T>;
}

/** Tokens in this client's memory only (the default): gone with the page or process. */
export function memoryStorage(initial?: SessionTokens): TokenStorage {
  let tokens = initial;
  return {
    get: () => tokens,
    set: (t) => {
      tokens = t;
    },
    clear: () => {
      tokens = undefined;
    },
  };
}

/** The Web Storage API's part the client uses (`localStorage`, `sessionStorage`). */
export interface WebStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

interface LockManager {
  request<T>(name: string, callback: () => Promise<T>): Promise<T>;
}

function isTokens(value: unknown): value is SessionTokens {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    ['access_token', 'refresh_token', 'expires_at', 'session_expires_at', 'session_id'].every((k) => typeof v[k] === 'string') &&
    typeof v.restricted === 'boolean'
  );
}

/**
 * Tokens in the browser's `localStorage` under `key` (or in any Web Storage given, such as
 * `sessionStorage` for a session per tab): they survive a reload and are shared by the tabs of the
 * portal's origin. Refreshes are serialized across tabs with the Web Locks API where the browser
 * has it. Only the tokens are stored: no password, code or personal data.
 */
export function localStorageStorage(key = 'billing-auth.session', store?: WebStorage): TokenStorage {
  const web = store ?? (globalThis as { localStorage?: WebStorage }).localStorage;
  if (!web) throw new Error('localStorageStorage: no localStorage here; pass a Web Storage or use memoryStorage()');
  const locks = (globalThis as { navigator?: { locks?: LockManager } }).navigator?.locks;
  return {
    get() {
      const raw = web.getItem(key);
      if (raw === null) return undefined;
      try {
        const parsed: unknown = JSON.parse(raw);
        return isTokens(parsed) ? parsed : undefined;
      } catch {
        return undefined;
      }
    },
    set: (tokens) => web.setItem(key, JSON.stringify(tokens)),
    clear: () => web.removeItem(key),
    ...(locks ? { lock: <T>(fn: () => Promise<T>) => locks.request(`${key}.refresh`, fn) } : {}),
  };
}

import type { Realm } from '../entities/descriptors.js';
import type { TrustProxy } from './trust-proxy.js';

/**
 * The operator contract: every configuration variable, its type, default and
 * meaning. README's configuration table is written from this list, and
 * `billing-auth config check` validates against it.
 *
 * Durations (`format: "duration"`) accept units (`30s`, `15m`, `12h`, `30d`) and
 * are turned into milliseconds; sizes (`format: "size"`) accept `64kb`, `1mb`
 * and are turned into bytes.
 */
export const configSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    PORT: { type: 'integer', minimum: 0, maximum: 65535, default: 3000, description: 'TCP port to listen on.' },
    HOST: { type: 'string', minLength: 1, default: '127.0.0.1', description: 'Interface to listen on (`0.0.0.0` in containers).' },
    PUBLIC_URL: {
      type: 'string',
      minLength: 1,
      description:
        'The address clients reach the service at (`https://auth.example`, with a path prefix if a proxy adds one): the `servers` of the served `/openapi.yaml` and `/openrpc.json`. http(s), no user, query or fragment. Unset: the address the service listens on (`http://HOST:PORT`); the committed `openapi.yaml` shows `http://127.0.0.1:3000`.',
    },
    DATABASE_URL: {
      type: 'string',
      pattern: '^(sqlite:|mysql://|mariadb://)',
      format: 'url',
      default: 'sqlite:./data/billing-auth.sqlite',
      description:
        '`sqlite:<file>` (embedded default; `sqlite::memory:` for a throw-away database) or `mysql://user:pass@host:3306/db` (MySQL 8, MariaDB 10.11).',
    },
    DB_CONNECT_TIMEOUT: {
      type: 'string',
      format: 'duration',
      default: '3s',
      description: 'MySQL: longest wait for a new connection (TCP and handshake) before the call answers 503 `Server.Unavailable`.',
    },
    DB_ACQUIRE_TIMEOUT: {
      type: 'string',
      format: 'duration',
      default: '5s',
      description: "Longest wait for a free connection of the service's own pools (connecting included) before the call answers 503.",
    },
    DB_QUERY_TIMEOUT: {
      type: 'string',
      format: 'duration',
      default: '5s',
      description:
        "Longest wait for one statement's answer before the call answers 503: on MySQL the connection is then closed and never reused (migrations are not bounded); on SQLite it bounds the wait for another process's write lock (busy timeout).",
    },
    DB_RETRY_TIME: {
      type: 'string',
      format: 'duration',
      default: '3s',
      description:
        'MySQL: how long a transaction that lost to contention (deadlock or Galera certification conflict 1213, lock wait timeout 1205, commit failure 1180, node not ready 1047) is run again from the start, with jittered exponential backoff, before the call answers 503 `Server.Unavailable` (`0`: never run again).',
    },
    REDIS_URL: {
      type: 'string',
      pattern: '^rediss?://',
      format: 'url',
      description:
        '`redis://[user:pass@]host:6379[/db]` (or `rediss://` for TLS): counters that every login touches (per-IP guards, rate windows) and session revocation notices live in Redis instead of hot database rows, so replicas behind one balancer do not contend on them. Unset: everything lives in the database. A configured Redis that does not answer makes the calls that need it answer 503 `Server.Unavailable`.',
    },
    REDIS_KEY_PREFIX: {
      type: 'string',
      maxLength: 64,
      pattern: '^[A-Za-z0-9_.:-]*$',
      default: 'billing-auth:',
      description: 'Prefix of every Redis key and channel the service uses, so deployments (or tests) can share one Redis.',
    },
    DATA_DIR: {
      type: 'string',
      minLength: 1,
      default: './data',
      description: 'Folder for generated secrets (JWT key, keyring) when they are not configured. Created on demand with 0700.',
    },
    CONFIG_FILE: { type: 'string', description: 'Optional JSON file with any of these keys; environment variables win over it.' },
    LOG_LEVEL: {
      type: 'string',
      enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
      default: 'info',
      description: 'pino log level.',
    },
    TRUST_PROXY: {
      type: ['boolean', 'integer', 'string', 'array'],
      format: 'trust-proxy',
      minimum: 0,
      maximum: 32,
      minItems: 1,
      items: { type: 'string', format: 'proxy-address' },
      default: false,
      description:
        'Which proxies may say who the client is in `X-Forwarded-For`: `false` (nobody: the TCP peer is the client), a comma-separated list of proxy addresses or networks (`10.0.0.0/8,fd00::/8`, or `loopback`, `linklocal`, `uniquelocal`), or the number of proxies in front of the service (`true` is `1`). The client IP is the right-most address not vouched for.',
    },
    CORS_ORIGINS: {
      type: 'string',
      format: 'cors-origins',
      default: '',
      description:
        'Origins whose pages may call `/rpc`, `/rest` and the PortaBilling paths from a browser, comma-separated, each exactly `scheme://host[:port]` (`https://portal.example,http://localhost:5173`); `*` is refused. Empty: no cross-origin access (no CORS headers at all).',
    },
    BODY_LIMIT: { type: 'string', format: 'size', default: '64kb', description: 'Largest accepted request body.' },
    SHUTDOWN_TIMEOUT: {
      type: 'string',
      format: 'duration',
      default: '10s',
      description: 'How long SIGTERM/SIGINT waits for in-flight calls before exiting.',
    },
    REQUEST_TIMEOUT: {
      type: 'string',
      format: 'duration',
      default: '30s',
      description:
        'A client must have sent its whole request (headers and body) this long after it started, or it is answered 408 and its connection closed (at least 1s).',
    },
    HEADERS_TIMEOUT: {
      type: 'string',
      format: 'duration',
      default: '10s',
      description: 'The same for the request headers alone (at least 1s, at most REQUEST_TIMEOUT).',
    },
    BOOTSTRAP_ADMIN_LOGIN: {
      type: 'string',
      minLength: 1,
      maxLength: 64,
      // What any login may hold (schemas/common.json#/$defs/login).
      pattern: '^[^\\p{C}\\p{Z}\\p{Default_Ignorable_Code_Point}]+$',
      default: 'root',
      description: 'Login of the admin created on first start.',
    },
    BOOTSTRAP_ADMIN_PASSWORD: {
      type: 'string',
      minLength: 1,
      maxLength: 32,
      description: 'Password of that admin. Unset: a strong one is generated and printed once to the console.',
    },
    JWT_SECRET: { type: 'string', minLength: 32, description: 'HMAC key for access tokens (at least 32 characters).' },
    JWT_SECRET_FILE: { type: 'string', description: 'File holding `JWT_SECRET`. Neither set: generated into `DATA_DIR/jwt-secret` (0600).' },
    KEYRING_FILE: {
      type: 'string',
      description:
        'Password-encryption keyring (JSON `{"primary": "k2", "keys": {"k1": "...", "k2": "..."}}`). Unset: generated into `DATA_DIR/keyring.json` (0600).',
    },
    BCRYPT_COST: { type: 'integer', minimum: 4, maximum: 31, default: 12, description: 'bcrypt cost factor for password hashes.' },
    SECURITY_ENCRYPT_PASSWORDS: {
      type: 'boolean',
      default: true,
      description:
        'Keep an encrypted, readable copy of the web passwords of customers, individuals, accounts, representatives and vendors (readable with `passwords.read`). Off: new and changed passwords keep only the hash.',
    },
    ADMIN_SET_PASSWORD_MUST_CHANGE: {
      type: 'boolean',
      default: true,
      description:
        'Whether a web password an admin sets for someone else (`add_<entity>`, `update_<entity>`) must be changed at the next login, when the call does not say (`password_must_change`).',
    },
    WEB_PASSWORD_MIN_LENGTH: {
      type: 'integer',
      minimum: 1,
      maximum: 32,
      default: 6,
      description: 'Shortest accepted web password (the maximum is fixed at 32).',
    },
    WEB_PASSWORD_COMPLEXITY_RULES: {
      type: 'string',
      format: 'complexity-rules',
      default: 'latin:must,digits:must,special:can,lowercase:can,uppercase:can',
      description:
        'For each character class (`latin`, `digits`, `lowercase`, `uppercase`, `special`): `must`, `can` or `cannot`, as `class:level,...` or a JSON object. Classes not named keep their default.',
    },
    WEB_PASSWORD_EXPIRE: {
      type: 'string',
      format: 'duration',
      default: '30d',
      description: 'Web passwords expire this long after they are set (`0`: never); a login with an expired password gets a restricted session.',
    },
    ACCESS_TOKEN_TTL: { type: 'string', format: 'duration', default: '15m', description: 'Lifetime of an access token.' },
    PORTABILLING_ACCESS_TOKEN_TTL: {
      type: 'string',
      format: 'duration',
      default: '48h',
      description:
        'Lifetime of an access token issued through the PortaBilling transport (its clients refresh only when less than an hour is left); never beyond the session, whose every call is still checked.',
    },
    REFRESH_REUSE_GRACE: {
      type: 'string',
      format: 'duration',
      default: '0',
      description:
        'How long a just-rotated refresh token presented again gets the same new pair instead of ending the session (portal workers sharing one token cache); at most 5m. `0`: off, any reuse ends the session.',
    },
    PORTABILLING_PORTS: {
      type: 'string',
      format: 'realm-ports',
      default: '',
      description:
        'Extra listeners, each serving the PortaBilling transport of one realm at `/rest/<Service>/<method>`, for clients that cannot take a path prefix: `account:8445,customer:8444`. Empty: none.',
    },
    SESSION_TTL: { type: 'string', format: 'duration', default: '12h', description: 'Absolute lifetime of a session.' },
    SESSION_IDLE_TTL: {
      type: 'string',
      format: 'duration',
      default: '30m',
      description: 'A session unused for this long ends (within a quarter of it more, at most 5 s); one used within it never does.',
    },
    SESSION_CACHE_SIZE: {
      type: 'integer',
      minimum: 0,
      maximum: 10_000_000,
      default: 10_000,
      description:
        'With `REDIS_URL`: how many sessions each replica keeps between calls (0: none, every call reads its session row). A cached session is used only while the replica is subscribed to the session notices that every revocation, logout, password change, block or permission change publishes after it commits, and only after the subscription has caught up with everything published before the call arrived, so such a change is refused on every replica at its next call. Without `REDIS_URL` there is no cache: every call reads its session row (one indexed read shared by the calls that arrive together).',
    },
    SESSION_CACHE_MAX_AGE: {
      type: 'string',
      format: 'duration',
      default: '2s',
      description:
        'With `REDIS_URL`: a cached session is read again at least this often. Bounds how long a change whose notice could not be published (Redis went away right after the commit) can go unseen by other replicas.',
    },
    MFA_TOKEN_TTL: { type: 'string', format: 'duration', default: '5m', description: 'How long an `mfa_token` from Session/login stays usable.' },
    TOTP_ISSUER: {
      type: 'string',
      minLength: 1,
      maxLength: 64,
      pattern: '^[^:]+$',
      default: 'Billing',
      description: 'Issuer shown in authenticator apps (no colon).',
    },
    TOTP_WINDOW: { type: 'integer', minimum: 0, maximum: 5, default: 1, description: 'Accepted 30-second steps either side of the current one.' },
    LOCKOUT_THRESHOLD: { type: 'integer', minimum: 1, maximum: 100, default: 5, description: 'Consecutive failures (password or OTP) that lock a login.' },
    LOCKOUT_DURATION: { type: 'string', format: 'duration', default: '1m', description: 'First lock; each further lock doubles it.' },
    LOCKOUT_MAX: { type: 'string', format: 'duration', default: '1h', description: 'Longest lock.' },
    LOCKOUT_IP_THRESHOLD: {
      type: 'integer',
      minimum: 1,
      default: 50,
      description: 'Consecutive failures from one client IP (over any logins) that lock that IP the same way.',
    },
    RATE_LIMIT_LOGIN: {
      type: 'integer',
      minimum: 1,
      default: 20,
      description:
        'Session/login, Session/verify_otp, Session/change_password, TwoFactor code checks, Session/request_password_reset and Session/reset_password per client IP per minute (shared by all replicas: in the database, or in Redis when REDIS_URL is set).',
    },
    PASSWORD_RESET_TTL: {
      type: 'string',
      format: 'duration',
      default: '30m',
      description: 'How long the token mailed by Session/request_password_reset stays usable (at most 24h).',
    },
    PASSWORD_RESET_URL: {
      type: 'string',
      minLength: 1,
      description:
        'The portal page a reset mail links to, with `{{token}}` where the token goes, e.g. `https://portal.example/reset?token={{token}}` (`https://`, or `http://` on a loopback host only). Unset: the mail gives the token alone, for the user to paste into the portal.',
    },
    PASSWORD_RESET_INTERVAL: {
      type: 'string',
      format: 'duration',
      default: '1m',
      description:
        'At most one reset mail per login per interval (at most 24h); further requests in it change nothing (the token already mailed stays valid) and get the same answer.',
    },
    PORTAL_RATE_LIMIT: {
      type: 'integer',
      minimum: 1,
      maximum: 1_000_000,
      default: 1200,
      description:
        'Password and code checks per portal client per minute, over all the end-user IPs it names (shared by all replicas: in the database, or in Redis when REDIS_URL is set); each end-user IP still counts towards RATE_LIMIT_LOGIN.',
    },
    SMTP_URL: {
      type: 'string',
      pattern: '^smtps?://',
      format: 'url',
      description: 'Mail server, e.g. `smtp://user:pass@host:587` (STARTTLS when offered) or `smtps://...:465`. Unset: notifications stay in the outbox.',
    },
    MAIL_FROM: { type: 'string', minLength: 3, default: 'billing-auth <no-reply@localhost>', description: 'Sender of notification mails.' },
    NOTIFY_BRAND: { type: 'string', minLength: 1, maxLength: 64, description: 'Portal name in mails (default: TOTP_ISSUER).' },
    NOTIFY_OTP_FAILURE_INTERVAL: {
      type: 'string',
      format: 'duration',
      default: '15m',
      description: 'At most one "wrong code" mail per principal per interval; later failures are counted into the next mail.',
    },
    NOTIFY_MAX_ATTEMPTS: { type: 'integer', minimum: 1, maximum: 100, default: 10, description: 'Delivery attempts before a mail is marked failed.' },
    NOTIFY_POLL_INTERVAL: {
      type: 'string',
      format: 'duration',
      default: '2s',
      description: 'How often the delivery worker looks for pending mails (`0`: no worker in this process).',
    },
    HOUSEKEEPING_INTERVAL: {
      type: 'string',
      format: 'duration',
      default: '5m',
      description:
        'How often this process deletes what is no longer needed (ended sessions, used or expired challenges and reset tokens, finished rate windows and guard rows, old mails and audit rows; see README, Retention), in small batches; every replica may run it (at most 24d; `0`: not in this process).',
    },
    SESSION_RETENTION: {
      type: 'string',
      format: 'duration',
      default: '7d',
      description: 'Ended sessions (revoked, or past their absolute expiry) are deleted this long after they ended (`0`: kept forever).',
    },
    NOTIFY_RETENTION: {
      type: 'string',
      format: 'duration',
      default: '30d',
      description: 'Sent and failed mails are deleted from the outbox this long after they were queued (`0`: kept forever).',
    },
    AUDIT_RETENTION: {
      type: 'string',
      format: 'duration',
      default: '0',
      description: 'Audit rows older than this are deleted (`0`: kept forever). `billing-auth audit export --before DATE` archives them first.',
    },
    METRICS: {
      type: 'boolean',
      default: false,
      description: 'Serve Prometheus metrics at `GET /metrics` (see README, Metrics).',
    },
    METRICS_PORT: {
      type: 'integer',
      minimum: 0,
      maximum: 65535,
      description: 'Serve `/metrics` on this port of HOST only, not on PORT (with METRICS=true). Unset: on PORT, beside the API.',
    },
    VALIDATE_RESULTS: {
      type: 'boolean',
      default: false,
      description: 'Check every method result against its schema (tests turn this on; a mismatch is an internal error).',
    },
  },
} as const;

export interface RealmPort {
  realm: Realm;
  port: number;
}

export type ConfigKey = keyof typeof configSchema.properties;

export interface Config {
  PORT: number;
  HOST: string;
  /** http(s) URL without trailing slash; unset: the listening address */
  PUBLIC_URL?: string;
  DATABASE_URL: string;
  /** milliseconds */
  DB_CONNECT_TIMEOUT: number;
  /** milliseconds */
  DB_ACQUIRE_TIMEOUT: number;
  /** milliseconds */
  DB_QUERY_TIMEOUT: number;
  /** milliseconds */
  DB_RETRY_TIME: number;
  /** Unset: no Redis; everything shared lives in the database. */
  REDIS_URL?: string;
  REDIS_KEY_PREFIX: string;
  DATA_DIR: string;
  CONFIG_FILE?: string;
  LOG_LEVEL: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** false, a hop count, or proxy addresses/networks (see config/trust-proxy.ts) */
  TRUST_PROXY: TrustProxy;
  /** exact origins, as browsers serialize them (see config/cors-origins.ts) */
  CORS_ORIGINS: string[];
  /** bytes */
  BODY_LIMIT: number;
  /** milliseconds */
  SHUTDOWN_TIMEOUT: number;
  /** milliseconds */
  REQUEST_TIMEOUT: number;
  /** milliseconds; at most REQUEST_TIMEOUT */
  HEADERS_TIMEOUT: number;
  BOOTSTRAP_ADMIN_LOGIN: string;
  BOOTSTRAP_ADMIN_PASSWORD?: string;
  JWT_SECRET?: string;
  JWT_SECRET_FILE?: string;
  KEYRING_FILE?: string;
  BCRYPT_COST: number;
  SECURITY_ENCRYPT_PASSWORDS: boolean;
  ADMIN_SET_PASSWORD_MUST_CHANGE: boolean;
  WEB_PASSWORD_MIN_LENGTH: number;
  WEB_PASSWORD_COMPLEXITY_RULES: string;
  /** milliseconds; 0 = never */
  WEB_PASSWORD_EXPIRE: number;
  /** milliseconds */
  ACCESS_TOKEN_TTL: number;
  /** milliseconds */
  PORTABILLING_ACCESS_TOKEN_TTL: number;
  /** milliseconds; 0 = off */
  REFRESH_REUSE_GRACE: number;
  /** One realm per extra listener (see src/portabilling/listeners.ts). */
  PORTABILLING_PORTS: RealmPort[];
  /** milliseconds */
  SESSION_TTL: number;
  /** milliseconds */
  SESSION_IDLE_TTL: number;
  SESSION_CACHE_SIZE: number;
  /** milliseconds */
  SESSION_CACHE_MAX_AGE: number;
  /** milliseconds */
  MFA_TOKEN_TTL: number;
  TOTP_ISSUER: string;
  TOTP_WINDOW: number;
  LOCKOUT_THRESHOLD: number;
  /** milliseconds */
  LOCKOUT_DURATION: number;
  /** milliseconds */
  LOCKOUT_MAX: number;
  LOCKOUT_IP_THRESHOLD: number;
  RATE_LIMIT_LOGIN: number;
  /** milliseconds */
  PASSWORD_RESET_TTL: number;
  /** a URL holding `{{token}}` */
  PASSWORD_RESET_URL?: string;
  /** milliseconds */
  PASSWORD_RESET_INTERVAL: number;
  PORTAL_RATE_LIMIT: number;
  SMTP_URL?: string;
  MAIL_FROM: string;
  NOTIFY_BRAND?: string;
  /** milliseconds */
  NOTIFY_OTP_FAILURE_INTERVAL: number;
  NOTIFY_MAX_ATTEMPTS: number;
  /** milliseconds; 0 = no worker */
  NOTIFY_POLL_INTERVAL: number;
  /** milliseconds; 0 = no housekeeping timer in this process */
  HOUSEKEEPING_INTERVAL: number;
  /** milliseconds; 0 = keep forever */
  SESSION_RETENTION: number;
  /** milliseconds; 0 = keep forever */
  NOTIFY_RETENTION: number;
  /** milliseconds; 0 = keep forever */
  AUDIT_RETENTION: number;
  METRICS: boolean;
  /** Unset: /metrics on PORT. */
  METRICS_PORT?: number;
  VALIDATE_RESULTS: boolean;
}

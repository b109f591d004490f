import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import bytes from 'bytes';
import ms from 'ms';
import { describeJsonError } from '../domain/crypto/keyring.js';
import { newLoginProblem } from '../domain/login.js';
import { parseComplexityRules } from '../domain/passwords/policy.js';
import { resetUrlProblem } from '../domain/reset-link.js';
import { parseCorsOrigins } from './cors-origins.js';
import { normalizePublicUrl, publicUrlProblem } from './public-url.js';
import { parseRealmPorts } from './realm-ports.js';
import { configSchema, type Config, type ConfigKey } from './schema.js';
import { isProxyAddress, parseTrustProxy } from './trust-proxy.js';

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
  }
}

/** `0` is a valid duration everywhere ("never" where the option says so). */
export function parseDuration(value: string): number | undefined {
  const trimmed = value.trim();
  if (trimmed === '0') return 0;
  if (!/^\d+(\.\d+)?\s*(ms|s|m|h|d|w)$/i.test(trimmed)) return undefined;
  const parsed = ms(trimmed as ms.StringValue);
  return Number.isFinite(parsed) && parsed >= 0 ? parsed : undefined;
}

export function parseSize(value: string): number | undefined {
  const parsed = bytes.parse(value);
  return parsed !== null && Number.isFinite(parsed) && parsed > 0 ? parsed : undefined;
}

const ajv = new Ajv({ coerceTypes: true, useDefaults: true, allErrors: true, strict: false });
ajv.addFormat('duration', { type: 'string', validate: (v: string) => parseDuration(v) !== undefined });
ajv.addFormat('size', { type: 'string', validate: (v: string) => parseSize(v) !== undefined });
// A server URL the driver cannot parse (e.g. a password with an unencoded space) would stop the
// service only once it connects or sends; `sqlite:` paths are not URLs.
ajv.addFormat('url', { type: 'string', validate: (v: string) => v.startsWith('sqlite:') || URL.canParse(v) });
/** A format whose parser throws on what it refuses. */
const parses =
  (parse: (value: string) => unknown) =>
  (value: string): boolean => {
    try {
      parse(value);
      return true;
    } catch {
      return false;
    }
  };
ajv.addFormat('complexity-rules', { type: 'string', validate: parses(parseComplexityRules) });
// TRUST_PROXY's string form (the environment's), and each entry of its array form (a config file's).
ajv.addFormat('trust-proxy', { type: 'string', validate: (v: string) => parseTrustProxy(v) !== undefined });
ajv.addFormat('proxy-address', { type: 'string', validate: (v: string) => isProxyAddress(v.trim()) });
ajv.addFormat('realm-ports', { type: 'string', validate: parses(parseRealmPorts) });
ajv.addFormat('cors-origins', { type: 'string', validate: parses(parseCorsOrigins) });
const validate = ajv.compile(configSchema);

/** Settings whose values are secrets: never echoed in messages. */
export const SECRET_SETTINGS = new Set(['JWT_SECRET', 'BOOTSTRAP_ADMIN_PASSWORD']);
/** Settings that are URLs and may carry a password. */
const URL_SETTINGS = new Set(['DATABASE_URL', 'SMTP_URL', 'REDIS_URL']);

/** A URL with its password (if any) replaced, for messages and `config check`. */
export function maskUrlPassword(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '********';
    return parsed.toString();
  } catch {
    // Not a URL at all: it may still hold credentials, so show only its start.
    return `${url.slice(0, 8)}…`;
  }
}

/** How a setting's value may appear in a message or on a console. */
export function displayValue(key: string, value: unknown): string {
  if (SECRET_SETTINGS.has(key)) return '********';
  if (URL_SETTINGS.has(key) && typeof value === 'string') return maskUrlPassword(value);
  return typeof value === 'string' ? value : JSON.stringify(value);
}

const FORMAT_HINTS: Record<string, string> = {
  duration: '30s, 15m, 12h or 30d',
  size: '64kb or 1mb',
  url: 'scheme://user:password@host:port, special characters in user and password percent-encoded',
  'complexity-rules': 'latin:must,digits:must,special:cannot',
  'trust-proxy': 'false, 1, or 10.0.0.0/8,192.168.1.7',
  'proxy-address': '10.0.0.0/8, 192.168.1.7 or loopback',
  'realm-ports': 'account:8445,customer:8444 (known realms, each realm and port once)',
  'cors-origins': 'https://portal.example,http://localhost:5173 (exact origins, no path, no *)',
};

const keys = Object.keys(configSchema.properties) as ConfigKey[];

function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError([`CONFIG_FILE ${path} cannot be read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`]);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    // Node's message quotes the text around the error, which may be a secret: give only where it is.
    throw new ConfigError([`CONFIG_FILE ${path} ${describeJsonError(err, text)}`]);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError([`CONFIG_FILE ${path} must hold a JSON object`]);
  }
  return parsed as Record<string, unknown>;
}

/**
 * Builds the configuration from the environment (and `CONFIG_FILE`), applying
 * defaults and converting durations and sizes. Every problem is reported at
 * once, each naming the variable, so an operator fixes them in one go.
 */
export function loadConfig(env: Record<string, string | undefined> = process.env, overrides: Partial<Record<ConfigKey, unknown>> = {}): Config {
  const fromEnv: Record<string, unknown> = {};
  for (const key of keys) {
    const value = env[key];
    if (value !== undefined && value !== '') fromEnv[key] = value;
  }
  const configFile = (overrides.CONFIG_FILE ?? fromEnv.CONFIG_FILE) as string | undefined;
  const fromFile = configFile ? readConfigFile(configFile) : {};
  const raw: Record<string, unknown> = { ...fromFile, ...fromEnv, ...overrides };
  for (const [key, value] of Object.entries(raw)) {
    // Numbers in a JSON config file are fine for durations and sizes, objects for complexity rules.
    const prop = (configSchema.properties as Record<string, { format?: string }>)[key];
    if (prop?.format === 'size' && typeof value === 'number') raw[key] = `${value}b`;
    if (prop?.format === 'duration' && typeof value === 'number') raw[key] = value === 0 ? '0' : `${value}ms`;
    if (prop?.format === 'complexity-rules' && typeof value === 'object' && value !== null) raw[key] = JSON.stringify(value);
  }

  if (!validate(raw)) {
    const problems = (validate.errors ?? []).map((e) => {
      if (e.keyword === 'additionalProperties') {
        return `${String(e.params.additionalProperty)} is not a known setting (in CONFIG_FILE)`;
      }
      const key = e.instancePath.replace(/^\//, '') || '(root)';
      // A URL that fails validation may hold its password where no parser finds it (`user:pass@host`).
      const hidden = SECRET_SETTINGS.has(key) || URL_SETTINGS.has(key);
      const given = key in raw ? ` (got ${hidden ? 'a value that is not shown' : JSON.stringify(displayValue(key, raw[key]))})` : '';
      const hint = e.keyword === 'format' ? ` like ${FORMAT_HINTS[String(e.params.format)] ?? 'the documented form'}` : '';
      return `${key} ${e.message}${hint}${given}`;
    });
    throw new ConfigError(problems);
  }
  for (const [key, prop] of Object.entries(configSchema.properties) as [string, { format?: string }][]) {
    const value = raw[key];
    if (typeof value !== 'string') continue;
    if (prop.format === 'duration') raw[key] = parseDuration(value);
    if (prop.format === 'size') raw[key] = parseSize(value);
    if (prop.format === 'realm-ports') raw[key] = parseRealmPorts(value);
    if (prop.format === 'cors-origins') raw[key] = parseCorsOrigins(value);
  }
  raw.TRUST_PROXY = parseTrustProxy(raw.TRUST_PROXY);
  const problems = [
    // A zero lifetime or lock would end every token or session at once, or lock nobody.
    ...POSITIVE_DURATIONS.filter((key) => raw[key] === 0).map((key) => `${key} must be longer than 0`),
    // Node's timers take at most 2^31-1 ms and silently use 1 ms beyond it (a busy loop, or no grace at all).
    ...TIMER_DURATIONS.filter((key) => Number(raw[key]) > MAX_TIMER_MS).map((key) => `${key} must be at most 24d (a timer's limit)`),
    // A reset token is a password for whoever reads the mail: it lives minutes, not days (OWASP Forgot Password Cheat Sheet).
    ...DAY_AT_MOST.filter((key) => Number(raw[key]) > DAY_MS).map((key) => `${key} must be at most 24h`),
    ...[raw.PASSWORD_RESET_URL === undefined ? undefined : resetUrlProblem(String(raw.PASSWORD_RESET_URL))]
      .filter(Boolean)
      .map((problem) => `PASSWORD_RESET_URL ${problem}`),
    ...[raw.PUBLIC_URL === undefined ? undefined : publicUrlProblem(String(raw.PUBLIC_URL))].filter(Boolean).map((problem) => `PUBLIC_URL ${problem}`),
    ...[newLoginProblem(String(raw.BOOTSTRAP_ADMIN_LOGIN))].filter(Boolean).map((problem) => `BOOTSTRAP_ADMIN_LOGIN cannot be used: ${problem}`),
    // Below a second, ordinary clients on a slow link would be cut off.
    ...CLIENT_TIMEOUTS.filter((key) => Number(raw[key]) < 1000).map((key) => `${key} must be at least 1s`),
    // Node refuses a headers timeout longer than the request timeout (it could never fire).
    ...(Number(raw.HEADERS_TIMEOUT) > Number(raw.REQUEST_TIMEOUT) ? ['HEADERS_TIMEOUT must be at most REQUEST_TIMEOUT'] : []),
    // A long grace would blind refresh-token reuse detection for as long (see README, Sessions).
    ...(Number(raw.REFRESH_REUSE_GRACE) > MAX_REFRESH_REUSE_GRACE_MS ? ['REFRESH_REUSE_GRACE must be at most 5m'] : []),
    // A PortaBilling listener on the main port would take the port's meaning (its realm) from every other route.
    ...(raw.PORT !== 0 && (raw.PORTABILLING_PORTS as Array<{ port: number }>).some((p) => p.port === raw.PORT)
      ? [`PORTABILLING_PORTS must not use PORT (${String(raw.PORT)})`]
      : []),
    // The metrics listener is a server of its own: it cannot share a port with the API or a PortaBilling listener.
    ...(raw.METRICS_PORT !== undefined &&
    raw.METRICS_PORT !== 0 &&
    (raw.METRICS_PORT === raw.PORT || (raw.PORTABILLING_PORTS as Array<{ port: number }>).some((p) => p.port === raw.METRICS_PORT))
      ? [`METRICS_PORT must differ from PORT and PORTABILLING_PORTS (${String(raw.METRICS_PORT)})`]
      : []),
  ];
  if (problems.length > 0) throw new ConfigError(problems);
  if (typeof raw.PUBLIC_URL === 'string') raw.PUBLIC_URL = normalizePublicUrl(raw.PUBLIC_URL);
  return raw as unknown as Config;
}

const DATABASE_TIMEOUTS = ['DB_CONNECT_TIMEOUT', 'DB_ACQUIRE_TIMEOUT', 'DB_QUERY_TIMEOUT'];
// A zero database timeout would fail every call (or mean "wait for ever", which is what they exist to prevent).
const POSITIVE_DURATIONS = [
  'ACCESS_TOKEN_TTL',
  'PORTABILLING_ACCESS_TOKEN_TTL',
  'SESSION_TTL',
  'SESSION_IDLE_TTL',
  'MFA_TOKEN_TTL',
  'LOCKOUT_DURATION',
  'LOCKOUT_MAX',
  'PASSWORD_RESET_TTL',
  'PASSWORD_RESET_INTERVAL',
  ...DATABASE_TIMEOUTS,
];
const DAY_AT_MOST = ['PASSWORD_RESET_TTL', 'PASSWORD_RESET_INTERVAL'];
const DAY_MS = 86_400_000;
const TIMER_DURATIONS = ['SHUTDOWN_TIMEOUT', 'NOTIFY_POLL_INTERVAL', 'HOUSEKEEPING_INTERVAL', ...DATABASE_TIMEOUTS];
const CLIENT_TIMEOUTS = ['REQUEST_TIMEOUT', 'HEADERS_TIMEOUT'];
const MAX_TIMER_MS = 2 ** 31 - 1;
const MAX_REFRESH_REUSE_GRACE_MS = 5 * 60_000;

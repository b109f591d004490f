import type { FastifyBaseLogger, FastifyServerOptions } from 'fastify';
import type { Bindings, ChildLoggerOptions, DestinationStream, Logger } from 'pino';
import type { Config } from './config/schema.js';

/** Every field name that can carry a secret, wherever it sits in a logged object. */
export const SECRET_FIELDS = [
  'password',
  'old_password',
  'new_password',
  'h323_password',
  'otp',
  'recovery_code',
  'recovery_codes',
  'access_token',
  'refresh_token',
  'mfa_token',
  'token',
  'secret',
  'qr_code_png',
  'qr_code_svg',
  'otpauth_uri',
  'JWT_SECRET',
  'BOOTSTRAP_ADMIN_PASSWORD',
];

export const redactPaths = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-portal-client"]',
  ...SECRET_FIELDS.flatMap((f) => [f, `*.${f}`, `*.*.${f}`, `*.*.*.${f}`]),
];

export function loggerOptions(config: Config, stream?: DestinationStream): FastifyServerOptions['logger'] {
  return {
    level: config.LOG_LEVEL,
    redact: { paths: redactPaths, censor: '[REDACTED]' },
    ...(stream ? { stream } : {}),
  };
}

/**
 * Fastify makes a child logger for every request; with the redaction above,
 * pino's child() costs about 5 % of an authenticated call. Most requests log
 * nothing at the production level, so the child is made on the first line
 * actually written (same bindings, same output).
 *
 * One small object per request, its methods on the prototype: a request
 * that waits on the database outlives the young generation, and per-request
 * closures were the largest share of what reached the old one (heap
 * sampling on MariaDB).
 */
class LazyChildLogger {
  #child: FastifyBaseLogger | undefined;

  constructor(
    private readonly parent: FastifyBaseLogger,
    private readonly bindings: Bindings,
    private readonly opts: ChildLoggerOptions,
  ) {}

  private real(): FastifyBaseLogger {
    return (this.#child ??= this.parent.child(this.bindings, this.opts));
  }

  private write(level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace', args: unknown[]): void {
    if (!this.#child && !(this.parent as unknown as Logger).isLevelEnabled(level)) return;
    (this.real()[level] as (...a: unknown[]) => void)(...args);
  }

  get level(): string {
    return this.#child?.level ?? this.parent.level;
  }

  set level(value: string) {
    this.real().level = value;
  }

  silent(): void {}
  child(bindings: Bindings, opts?: ChildLoggerOptions): FastifyBaseLogger {
    return this.real().child(bindings, opts);
  }
  fatal(...args: unknown[]): void {
    this.write('fatal', args);
  }
  error(...args: unknown[]): void {
    this.write('error', args);
  }
  warn(...args: unknown[]): void {
    this.write('warn', args);
  }
  info(...args: unknown[]): void {
    this.write('info', args);
  }
  debug(...args: unknown[]): void {
    this.write('debug', args);
  }
  trace(...args: unknown[]): void {
    this.write('trace', args);
  }
}

export function lazyChildLogger(parent: FastifyBaseLogger, bindings: Bindings, opts: ChildLoggerOptions): FastifyBaseLogger {
  return new LazyChildLogger(parent, bindings, opts) as unknown as FastifyBaseLogger;
}

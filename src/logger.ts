import type { FastifyBaseLogger, FastifyServerOptions } from 'fastify';
import { stdSerializers, type Bindings, type ChildLoggerOptions, type DestinationStream, type LogFn, type Logger } from 'pino';
import type { Config } from './config/schema.js';

/** Every field name that can carry a secret, wherever it sits in a logged object. */
export const SECRET_FIELDS = [
  'password',
  'old_password',
  'new_password',
  'h323_password',
  'password_hash',
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

/** How deep the redaction walks a logged object (`*.*.*.field`): bytes must not sit that deep. */
const REDACTED_DEPTH = 4;

/**
 * Errors are logged with every enumerable property they carry, and some carry
 * bytes. Node's HTTP parser errors (an oversized header, a malformed request)
 * have `rawPacket`: the raw request, Authorization header and cookies
 * included, so it is dropped. Other bytes are logged as their size: the
 * redaction walks into whatever object it finds, and a Buffer's inherited
 * getters throw on that (`%TypedArray%.prototype.buffer called on
 * incompatible receiver`), which at LOG_LEVEL=trace ended the process on a
 * 20 KB header.
 */
export function serializeError(err: Error): SerializedError {
  return withoutBytes(stdSerializers.err(err), REDACTED_DEPTH) as SerializedError;
}

type SerializedError = ReturnType<typeof stdSerializers.err>;

function withoutBytes(value: unknown, depth: number): unknown {
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return `[${value.byteLength} bytes]`;
  if (depth === 0 || typeof value !== 'object' || value === null || typeof (value as { toJSON?: unknown }).toJSON === 'function') return value;
  if (Array.isArray(value)) return value.map((item) => withoutBytes(item, depth - 1));
  const copy: Record<string, unknown> = {};
  // for-in, as pino writes it: the serialized error keeps `type`, `message` and `stack` on its prototype.
  for (const key in value) {
    const item = (value as Record<string, unknown>)[key];
    if (key !== 'rawPacket' && item !== undefined) copy[key] = withoutBytes(item, depth - 1);
  }
  return copy;
}

/**
 * No log line may end the process: a line that cannot be written (a value
 * the serializers or the redaction cannot handle) is replaced by one saying
 * so, with its message, rather than throwing into a request or a socket
 * event where nothing would catch it.
 */
function writeOrReport(this: Logger, args: Parameters<LogFn>, write: LogFn): void {
  try {
    write.apply(this, args);
  } catch (err) {
    const message = args.find((arg): arg is string => typeof arg === 'string') ?? 'a log line could not be written';
    try {
      write.call(this, { log_failure: err instanceof Error ? err.message : String(err) }, message);
    } catch {
      // Nothing left to write with; the service goes on.
    }
  }
}

export function loggerOptions(config: Config, stream?: DestinationStream): FastifyServerOptions['logger'] {
  return {
    level: config.LOG_LEVEL,
    redact: { paths: redactPaths, censor: '[REDACTED]' },
    serializers: { err: serializeError },
    hooks: { logMethod: writeOrReport },
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

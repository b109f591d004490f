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

export const redactPaths = ['req.headers.authorization', 'req.headers.cookie', ...SECRET_FIELDS.flatMap((f) => [f, `*.${f}`, `*.*.${f}`, `*.*.*.${f}`])];

export function loggerOptions(config: Config, stream?: DestinationStream): FastifyServerOptions['logger'] {
  return {
    level: config.LOG_LEVEL,
    redact: { paths: redactPaths, censor: '[REDACTED]' },
    ...(stream ? { stream } : {}),
  };
}

type LevelName = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
const LEVELS: LevelName[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'];

/**
 * Fastify makes a child logger for every request; with the redaction above,
 * pino's child() costs about 5 % of an authenticated call. Most requests log
 * nothing at the production level, so the child is made on the first line
 * actually written (same bindings, same output).
 */
export function lazyChildLogger(parent: FastifyBaseLogger, bindings: Bindings, opts: ChildLoggerOptions): FastifyBaseLogger {
  let child: FastifyBaseLogger | undefined;
  const real = (): FastifyBaseLogger => (child ??= parent.child(bindings, opts));
  const logger = {
    get level() {
      return child?.level ?? parent.level;
    },
    set level(value: string) {
      real().level = value;
    },
    silent: () => undefined,
    child: (b: Bindings, o?: ChildLoggerOptions) => real().child(b, o),
  } as unknown as FastifyBaseLogger;
  for (const name of LEVELS) {
    (logger as unknown as Record<LevelName, (...args: unknown[]) => void>)[name] = (...args: unknown[]) => {
      if (!child && !(parent as unknown as Logger).isLevelEnabled(name)) return;
      (real()[name] as (...a: unknown[]) => void)(...args);
    };
  }
  return logger;
}

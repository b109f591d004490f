import type { FastifyServerOptions } from 'fastify';
import type { DestinationStream } from 'pino';
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

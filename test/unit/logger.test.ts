import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import Fastify from 'fastify';
import { loadConfig } from '../../src/config/load.js';
import { loggerOptions } from '../../src/logger.js';

/** A logger configured as the service's, writing into an array. */
function capturedLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(JSON.parse(String(chunk)) as Record<string, unknown>);
      done();
    },
  });
  const { log } = Fastify({ logger: loggerOptions(loadConfig({ LOG_LEVEL: 'trace' }), stream) });
  return { log, lines };
}

test('an error carrying bytes is logged without them, and without the raw request it came with', () => {
  const { log, lines } = capturedLogger();
  // What Node's HTTP parser hands Fastify for a 20 KB header (logged at trace).
  const err = Object.assign(new Error('Parse Error: Header overflow'), {
    code: 'HPE_HEADER_OVERFLOW',
    rawPacket: Buffer.from('GET / HTTP/1.1\r\nAuthorization: Bearer stolen-credential\r\n'),
    detail: { payload: new Uint8Array(3), nested: { more: Buffer.alloc(5) } },
  });
  log.trace({ err }, 'client header_overflow');
  assert.equal(lines.length, 1);
  const logged = lines[0]?.err as Record<string, unknown>;
  assert.equal(logged.code, 'HPE_HEADER_OVERFLOW');
  assert.equal(logged.rawPacket, undefined);
  assert.deepEqual(logged.detail, { payload: '[3 bytes]', nested: { more: '[5 bytes]' } });
  assert.ok(!JSON.stringify(lines).includes('stolen-credential'));
});

test('a log line that cannot be written is reported, never thrown, and logging goes on', () => {
  const { log, lines } = capturedLogger();
  // Bytes outside an error: the redaction of `*.*.*.password` walks into the Buffer, whose getters throw.
  assert.doesNotThrow(() => log.info({ detail: { payload: Buffer.from('abc') } }, 'with bytes'));
  assert.equal(lines[0]?.msg, 'with bytes');
  assert.match(String(lines[0]?.log_failure), /incompatible receiver/);
  log.info({ password: 'hunter2-hunter2' }, 'next');
  assert.equal(lines[1]?.msg, 'next');
  assert.equal(lines[1]?.password, '[REDACTED]');
});

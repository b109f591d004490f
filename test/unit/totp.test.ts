import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HOTP, Secret, TOTP, URI } from 'otpauth';
import { codeAt, generateSecret, otpauthUri, stepAt, TOTP_ALGORITHM, TOTP_DIGITS, TOTP_PERIOD_SECONDS, verifyTotp } from '../../src/domain/totp/totp.js';

// The 20-byte ASCII secret used by RFC 4226 Appendix D and RFC 6238 Appendix B.
const RFC_SECRET_ASCII = '12345678901234567890';
const rfcSecret = Secret.fromLatin1(RFC_SECRET_ASCII);
const RFC_SECRET_BASE32 = rfcSecret.base32;

const STEP_MS = TOTP_PERIOD_SECONDS * 1000;
/** Some instant in the middle of a step, well away from the epoch. */
const NOW = 1_700_000_000_000 + 12_345;
/**
 * Verification tests use a fixed secret and instant: with a random one, a code
 * from a far step could (1 in 10^6 per step) also match a nearer step and make
 * the test flaky. Fixed, any such collision would show up every time.
 */
const FIXED_SECRET = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';

test('constants match what authenticator apps expect', () => {
  assert.equal(TOTP_PERIOD_SECONDS, 30);
  assert.equal(TOTP_DIGITS, 6);
  assert.equal(TOTP_ALGORITHM, 'SHA1');
  assert.equal(RFC_SECRET_BASE32, 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ');
});

test('RFC 4226 Appendix D: HOTP values for counters 0..9 (otpauth HOTP)', () => {
  const expected = ['755224', '287082', '359152', '969429', '338314', '254676', '287922', '162583', '399871', '520489'];
  expected.forEach((code, counter) => {
    assert.equal(HOTP.generate({ secret: rfcSecret, algorithm: 'SHA1', digits: 6, counter }), code, `counter ${counter}`);
  });
});

const rfc6238Sha1: Array<[seconds: number, code: string]> = [
  [59, '94287082'],
  [1111111109, '07081804'],
  [1111111111, '14050471'],
  [1234567890, '89005924'],
  [2000000000, '69279037'],
  [20000000000, '65353130'],
];

test('RFC 6238 Appendix B: SHA1 vectors, 8 digits (otpauth TOTP)', () => {
  for (const [seconds, code] of rfc6238Sha1) {
    assert.equal(TOTP.generate({ secret: rfcSecret, algorithm: 'SHA1', digits: 8, period: 30, timestamp: seconds * 1000 }), code, `T=${seconds}`);
  }
});

test('codeAt equals the last 6 digits of the RFC 6238 vectors (truncation mod 10^6 of mod 10^8)', () => {
  for (const [seconds, code] of rfc6238Sha1) {
    assert.equal(codeAt(RFC_SECRET_BASE32, seconds * 1000), code.slice(-6), `T=${seconds}`);
  }
});

test('stepAt is floor(seconds / 30)', () => {
  assert.equal(stepAt(0), 0);
  assert.equal(stepAt(29_999), 0);
  assert.equal(stepAt(30_000), 1);
  assert.equal(stepAt(59_000), 1);
  assert.equal(stepAt(1_111_111_109_000), 37_037_036);
  assert.equal(stepAt(NOW), Math.floor(NOW / 1000 / 30));
});

test('codeAt is 6 ASCII digits and constant within a step', () => {
  const secret = generateSecret();
  const start = stepAt(NOW) * STEP_MS;
  assert.match(codeAt(secret, start), /^[0-9]{6}$/);
  assert.equal(codeAt(secret, start), codeAt(secret, start + STEP_MS - 1));
});

test('verifyTotp accepts the current step and returns it', () => {
  const secret = FIXED_SECRET;
  assert.deepEqual(verifyTotp(secret, codeAt(secret, NOW), NOW, 1), { ok: true, step: stepAt(NOW) });
  assert.deepEqual(verifyTotp(secret, codeAt(secret, NOW), NOW, 0), { ok: true, step: stepAt(NOW) });
});

test('verifyTotp accepts codes within ±window steps and returns their step', () => {
  const secret = FIXED_SECRET;
  for (const window of [1, 2, 3]) {
    for (let offset = -window; offset <= window; offset++) {
      const at = NOW + offset * STEP_MS;
      assert.deepEqual(verifyTotp(secret, codeAt(secret, at), NOW, window), { ok: true, step: stepAt(NOW) + offset }, `window ${window} offset ${offset}`);
    }
  }
});

test('verifyTotp refuses codes just outside the window', () => {
  const secret = FIXED_SECRET;
  for (const window of [0, 1, 2]) {
    for (const offset of [-(window + 1), window + 1]) {
      const result = verifyTotp(secret, codeAt(secret, NOW + offset * STEP_MS), NOW, window);
      assert.equal(result.ok, false, `window ${window} offset ${offset}`);
    }
  }
});

test('window 0 accepts only the current step', () => {
  const secret = FIXED_SECRET;
  assert.equal(verifyTotp(secret, codeAt(secret, NOW), NOW, 0).ok, true);
  assert.equal(verifyTotp(secret, codeAt(secret, NOW - STEP_MS), NOW, 0).ok, false);
  assert.equal(verifyTotp(secret, codeAt(secret, NOW + STEP_MS), NOW, 0).ok, false);
});

test('verifyTotp refuses anything but exactly 6 ASCII digits', () => {
  const secret = FIXED_SECRET;
  const code = codeAt(secret, NOW);
  const bad = [
    '',
    code.slice(0, 5),
    `${code}0`,
    `0${code}`,
    ` ${code}`,
    `${code} `,
    `${code}\n`,
    `${code.slice(0, 3)} ${code.slice(3)}`,
    'abcdef',
    '12345a',
    '-12345',
    '+12345',
    '１２３４５６', // full-width digits
    '١٢٣٤٥٦', // Arabic-Indic digits
    '1e5000',
  ];
  for (const input of bad) assert.deepEqual(verifyTotp(secret, input, NOW, 1), { ok: false }, JSON.stringify(input));
});

test('skew hint: 2..10 steps away, signed, never accepted', () => {
  const secret = FIXED_SECRET;
  for (let distance = 2; distance <= 10; distance++) {
    for (const skew of [-distance, distance]) {
      const result = verifyTotp(secret, codeAt(secret, NOW + skew * STEP_MS), NOW, 1);
      assert.deepEqual(result, { ok: false, skewSteps: skew }, `skew ${skew}`);
    }
  }
});

test('skew hint: a phone behind gives a negative skew, a phone ahead a positive one', () => {
  const secret = FIXED_SECRET;
  const phoneBehind = NOW - 5 * STEP_MS;
  const phoneAhead = NOW + 5 * STEP_MS;
  assert.deepEqual(verifyTotp(secret, codeAt(secret, phoneBehind), NOW, 1), { ok: false, skewSteps: -5 });
  assert.deepEqual(verifyTotp(secret, codeAt(secret, phoneAhead), NOW, 1), { ok: false, skewSteps: 5 });
});

test('skew hint: none beyond 10 steps', () => {
  const secret = FIXED_SECRET;
  for (const skew of [-11, 11, -20, 20, -1000, 1000]) {
    assert.deepEqual(verifyTotp(secret, codeAt(secret, NOW + skew * STEP_MS), NOW, 1), { ok: false }, `skew ${skew}`);
  }
});

test('skew hint with window 0 starts at 2 steps: 1 step away gives no hint', () => {
  const secret = FIXED_SECRET;
  assert.deepEqual(verifyTotp(secret, codeAt(secret, NOW - STEP_MS), NOW, 0), { ok: false });
  assert.deepEqual(verifyTotp(secret, codeAt(secret, NOW - 2 * STEP_MS), NOW, 0), { ok: false, skewSteps: -2 });
});

test('skew hint starts beyond a wider window', () => {
  const secret = FIXED_SECRET;
  assert.deepEqual(verifyTotp(secret, codeAt(secret, NOW + 3 * STEP_MS), NOW, 3), { ok: true, step: stepAt(NOW) + 3 });
  assert.deepEqual(verifyTotp(secret, codeAt(secret, NOW + 4 * STEP_MS), NOW, 3), { ok: false, skewSteps: 4 });
});

test('verifyTotp with the RFC 6238 secret and time', () => {
  // T = 1111111109 s: the 6-digit code is the last 6 digits of 07081804.
  assert.deepEqual(verifyTotp(RFC_SECRET_BASE32, '081804', 1_111_111_109_000, 1), { ok: true, step: 37_037_036 });
  // 1111111111 s is the next step (37037037); its code is accepted 1 step late with window 1.
  assert.deepEqual(verifyTotp(RFC_SECRET_BASE32, '050471', 1_111_111_109_000, 1), { ok: true, step: 37_037_037 });
  assert.deepEqual(verifyTotp(RFC_SECRET_BASE32, '050471', 1_111_111_109_000, 0), { ok: false });
});

test('verifyTotp rejects a bad window and a weak secret', () => {
  const secret = FIXED_SECRET;
  assert.throws(() => verifyTotp(secret, '123456', NOW, -1), RangeError);
  assert.throws(() => verifyTotp(secret, '123456', NOW, 1.5), RangeError);
  // 80 bits: below the 128-bit minimum of RFC 4226 R6.
  assert.throws(() => verifyTotp('JBSWY3DPEHPK3PXP', '123456', NOW, 1), RangeError);
  assert.throws(() => codeAt('', NOW), RangeError);
});

test('generateSecret: 32 base32 characters (160 bits), distinct each call', () => {
  const secrets = new Set<string>();
  for (let i = 0; i < 100; i++) {
    const secret = generateSecret();
    assert.match(secret, /^[A-Z2-7]{32}$/);
    assert.equal(Secret.fromBase32(secret).bytes.length, 20);
    secrets.add(secret);
  }
  assert.equal(secrets.size, 100);
});

test('otpauthUri: Key Uri Format with exactly the expected parameters', () => {
  const secret = generateSecret();
  const uri = otpauthUri({ issuer: 'Billing', login: 'alice', secretBase32: secret });
  const url = new URL(uri);
  assert.equal(url.protocol, 'otpauth:');
  assert.equal(url.host, 'totp');
  assert.equal(url.pathname, '/Billing:alice');
  assert.deepEqual([...url.searchParams.keys()].sort(), ['algorithm', 'digits', 'issuer', 'period', 'secret']);
  assert.equal(url.searchParams.get('secret'), secret);
  assert.equal(url.searchParams.get('issuer'), 'Billing');
  assert.equal(url.searchParams.get('algorithm'), 'SHA1');
  assert.equal(url.searchParams.get('digits'), '6');
  assert.equal(url.searchParams.get('period'), '30');
});

test('otpauthUri: issuer and login with spaces and ":" are percent-encoded', () => {
  const secret = generateSecret();
  const uri = otpauthUri({ issuer: 'ACME Billing: EU', login: 'jo doe:admin@example.com', secretBase32: secret });
  assert.ok(uri.startsWith('otpauth://totp/ACME%20Billing%3A%20EU:jo%20doe%3Aadmin%40example.com?'), uri);
  assert.ok(!/\s/.test(uri), 'no raw whitespace');
  // Exactly one raw ':' in the label: the issuer/login separator.
  const label = uri.slice('otpauth://totp/'.length, uri.indexOf('?'));
  assert.equal(label.split(':').length, 2);
  const query = new URLSearchParams(uri.slice(uri.indexOf('?') + 1));
  assert.equal(query.get('issuer'), 'ACME Billing: EU');
  assert.ok(uri.includes('issuer=ACME%20Billing%3A%20EU'), 'issuer parameter uses %20, not +');
  // The Key Uri Format lets apps split the label on a literal *or* encoded
  // colon, so a ':' inside the issuer or login can still be mis-split in the
  // label (otpauth's own parser does); the `issuer` parameter, which apps
  // prefer, survives intact.
  assert.equal(URI.parse(uri).issuer, 'ACME Billing: EU');
});

test('otpauthUri round-trips through an independent parser (otpauth URI.parse)', () => {
  const secret = generateSecret();
  const parsed = URI.parse(otpauthUri({ issuer: 'ACME Billing', login: 'jo doe@example.com', secretBase32: secret }));
  assert.ok(parsed instanceof TOTP);
  assert.equal(parsed.issuer, 'ACME Billing');
  assert.equal(parsed.label, 'jo doe@example.com');
  assert.equal(parsed.secret.base32, secret);
  assert.equal(parsed.algorithm, 'SHA1');
  assert.equal(parsed.digits, 6);
  assert.equal(parsed.period, 30);
});

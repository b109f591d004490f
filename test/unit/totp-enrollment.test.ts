import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildEnrollment } from '../../src/domain/totp/enrollment.js';
import {
  generateRecoveryCodes,
  hashRecoveryCode,
  looksLikeRecoveryCode,
  normalizeRecoveryCode,
  RECOVERY_CODE_COUNT,
} from '../../src/domain/totp/recovery-codes.js';
import { generateSecret, otpauthUri } from '../../src/domain/totp/totp.js';
import { decodeQrDataUrl } from '../helpers/qr.js';

test('enrollment: the PNG QR code decodes to exactly the otpauth URI', async () => {
  const secret = generateSecret();
  const opts = { issuer: 'ACME Billing: EU', login: 'jo doe:admin@example.com', secretBase32: secret };
  const enrollment = await buildEnrollment(opts);
  assert.equal(enrollment.secret, secret);
  assert.equal(enrollment.otpauth_uri, otpauthUri(opts));
  assert.equal(decodeQrDataUrl(enrollment.qr_code_png), enrollment.otpauth_uri);
});

test('enrollment: the SVG is SVG markup', async () => {
  const enrollment = await buildEnrollment({ issuer: 'Billing', login: 'alice', secretBase32: generateSecret() });
  const svg = enrollment.qr_code_svg.replace(/^<\?xml[^>]*\?>\s*/, '');
  assert.ok(svg.startsWith('<svg'), svg.slice(0, 40));
  assert.ok(svg.trimEnd().endsWith('</svg>'));
  assert.match(svg, /xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
});

test('enrollment: a long issuer and login still fit and decode', async () => {
  const opts = {
    issuer: 'Example Telecom Billing Services Ltd.',
    login: 'a.very.long.login.name+billing@subdomain.example.com',
    secretBase32: generateSecret(),
  };
  const enrollment = await buildEnrollment(opts);
  assert.equal(decodeQrDataUrl(enrollment.qr_code_png), enrollment.otpauth_uri);
});

test('recovery codes: 10 distinct codes by default, of the documented shape', () => {
  assert.equal(RECOVERY_CODE_COUNT, 10);
  const codes = generateRecoveryCodes();
  assert.equal(codes.length, RECOVERY_CODE_COUNT);
  assert.equal(new Set(codes).size, codes.length);
  for (const code of codes) {
    assert.match(code, /^[0-9a-hjkmnp-tv-z]{4}(-[0-9a-hjkmnp-tv-z]{4}){5}$/, code);
    assert.ok(looksLikeRecoveryCode(code), code);
  }
});

test('recovery codes: the requested count, distinct across many calls', () => {
  assert.equal(generateRecoveryCodes(3).length, 3);
  const all = Array.from({ length: 100 }, () => generateRecoveryCodes()).flat();
  assert.equal(new Set(all).size, all.length);
  assert.throws(() => generateRecoveryCodes(0), RangeError);
  assert.throws(() => generateRecoveryCodes(-1), RangeError);
  assert.throws(() => generateRecoveryCodes(2.5), RangeError);
});

test('recovery codes: at least 112 bits each (24 characters of 5 bits), all characters used', () => {
  const [code] = generateRecoveryCodes(1);
  assert.ok(code);
  const normalized = normalizeRecoveryCode(code);
  assert.equal(normalized.length, 24);
  assert.ok(normalized.length * Math.log2(32) >= 112);
  const seen = new Set(generateRecoveryCodes(100).join('').replace(/-/g, ''));
  assert.equal(seen.size, 32, 'every alphabet character appears over 2400 draws');
});

test('recovery codes: typed loosely (upper case, spaces, dashes, blanks) they normalize and hash the same', () => {
  for (const code of generateRecoveryCodes()) {
    const typed = `  ${code.toUpperCase().replace(/-/g, ' ')} \n`;
    assert.equal(normalizeRecoveryCode(typed), normalizeRecoveryCode(code));
    assert.equal(hashRecoveryCode(typed), hashRecoveryCode(code));
    const squashed = code.replace(/-/g, '');
    assert.equal(hashRecoveryCode(squashed), hashRecoveryCode(code));
    assert.ok(looksLikeRecoveryCode(typed));
  }
});

test('recovery codes: normalize maps confusable letters the Crockford way (o → 0, i/l → 1)', () => {
  assert.equal(normalizeRecoveryCode(' AbO1-iL0z '), 'ab01110z');
  assert.equal(hashRecoveryCode('0001-1111-2222-3333-4444-5555'), hashRecoveryCode('OoO1 IiLl 2222 3333 4444 5555'));
});

test('recovery codes: the hash is SHA-256 hex of the normalized code and differs between codes', () => {
  const [a, b] = generateRecoveryCodes(2);
  assert.ok(a && b);
  assert.match(hashRecoveryCode(a), /^[0-9a-f]{64}$/);
  assert.notEqual(hashRecoveryCode(a), hashRecoveryCode(b));
  // Known answer: SHA-256 of 'abcd' (the normalized form of ' A-B C-D ').
  assert.equal(hashRecoveryCode(' A-B C-D '), '88d4266fd4e6338d13b845fcf289579d209c897823b9217da3e161936f031589');
});

test('looksLikeRecoveryCode tells recovery codes from TOTP codes and junk', () => {
  const [code] = generateRecoveryCodes(1);
  assert.ok(code);
  assert.ok(looksLikeRecoveryCode(code));
  assert.ok(looksLikeRecoveryCode(code.toUpperCase()));
  assert.ok(!looksLikeRecoveryCode('123456'));
  assert.ok(!looksLikeRecoveryCode(''));
  assert.ok(!looksLikeRecoveryCode(code.slice(0, -1)), 'one character short');
  assert.ok(!looksLikeRecoveryCode(`${code}a`), 'one character long');
  assert.ok(!looksLikeRecoveryCode(code.replace(/^./, 'u')), 'u is not in the alphabet');
  assert.ok(!looksLikeRecoveryCode(code.replace(/^./, '!')));
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  CHAR_CLASSES,
  checkPassword,
  createPasswordPolicy,
  DEFAULT_MIN_LENGTH,
  DEFAULT_RULES,
  describePolicy,
  MAX_PASSWORD_LENGTH,
  parseComplexityRules,
  type ComplexityRules,
  type PasswordPolicy,
} from '../../src/domain/passwords/policy.js';

const defaults: PasswordPolicy = { min_length: DEFAULT_MIN_LENGTH, max_length: MAX_PASSWORD_LENGTH, rules: DEFAULT_RULES };
const withRules = (rules: Partial<ComplexityRules>, min_length = DEFAULT_MIN_LENGTH): PasswordPolicy => ({
  min_length,
  max_length: MAX_PASSWORD_LENGTH,
  rules: { ...DEFAULT_RULES, ...rules },
});

test('defaults: 6 to 32 characters, latin and digits required, the rest allowed', () => {
  assert.equal(DEFAULT_MIN_LENGTH, 6);
  assert.equal(MAX_PASSWORD_LENGTH, 32);
  assert.deepEqual(CHAR_CLASSES, ['latin', 'digits', 'lowercase', 'uppercase', 'special']);
  assert.deepEqual(DEFAULT_RULES, { latin: 'must', digits: 'must', lowercase: 'can', uppercase: 'can', special: 'can' });
  assert.deepEqual(createPasswordPolicy(), defaults);
  for (const ok of ['abc123', 'ABC123', 'aB3!@#', 'Tr0ub4dor&3', `a1${'!'.repeat(30)}`]) assert.deepEqual(checkPassword(ok, defaults), [], ok);
});

test('every violation is listed at once, in a stable order', () => {
  assert.deepEqual(checkPassword('abc', defaults), ['min_length', 'must_include_digits']);
  assert.deepEqual(checkPassword('', defaults), ['min_length', 'must_include_latin', 'must_include_digits']);
  assert.deepEqual(checkPassword('12345', defaults), ['min_length', 'must_include_latin']);
  assert.deepEqual(checkPassword('!!!!!!', defaults), ['must_include_latin', 'must_include_digits']);
  assert.deepEqual(checkPassword('ab 1', defaults), ['min_length', 'invalid_characters']);

  const strict = withRules({ lowercase: 'must', uppercase: 'must', special: 'must' }, 8);
  assert.deepEqual(checkPassword('', strict), [
    'min_length',
    'must_include_latin',
    'must_include_digits',
    'must_include_lowercase',
    'must_include_uppercase',
    'must_include_special',
  ]);
  assert.deepEqual(checkPassword('abcdefgh1', strict), ['must_include_uppercase', 'must_include_special']);
  assert.deepEqual(checkPassword('Abcdefg1!', strict), []);
});

test('cannot rules', () => {
  const noSpecial = withRules({ special: 'cannot' });
  assert.deepEqual(checkPassword('abc123!', noSpecial), ['cannot_include_special']);
  assert.deepEqual(checkPassword('abc123', noSpecial), []);

  const lowerOnly = withRules({ uppercase: 'cannot', digits: 'can' });
  assert.deepEqual(checkPassword('Abcdef', lowerOnly), ['cannot_include_uppercase']);
  assert.deepEqual(checkPassword('abcdef', lowerOnly), []);

  const digitsOnly = withRules({ latin: 'cannot', special: 'cannot' });
  assert.deepEqual(checkPassword('123456', digitsOnly), []);
  assert.deepEqual(checkPassword('12a3B!', digitsOnly), ['cannot_include_latin', 'cannot_include_special']);
  // lowercase/uppercase are "can" here, but latin:cannot still forbids them (reported once, as latin).
  assert.deepEqual(checkPassword('123a', withRules({ latin: 'cannot', digits: 'must' }, 1)), ['cannot_include_latin']);

  const all = withRules({ latin: 'can', digits: 'cannot', lowercase: 'cannot', uppercase: 'cannot', special: 'must' }, 1);
  assert.deepEqual(checkPassword('aB1', all), ['must_include_special', 'cannot_include_digits', 'cannot_include_lowercase', 'cannot_include_uppercase']);
});

test('invalid characters: space, non-ASCII, control characters', () => {
  for (const password of ['abc 123', 'abcé123', 'abc\t123', 'abc\n123', 'abc\u0000123', 'abc\u00a0123', 'abc😀123', 'аbc123' /* Cyrillic а */]) {
    assert.deepEqual(checkPassword(password, defaults), ['invalid_characters'], JSON.stringify(password));
  }
  // é is not a Latin letter in this policy: only A-Z and a-z are.
  assert.deepEqual(checkPassword('éééééé1', defaults), ['must_include_latin', 'invalid_characters']);
});

test('length: 32 is fine, 33 is too long; counted in code points', () => {
  assert.deepEqual(checkPassword(`a1${'x'.repeat(30)}`, defaults), []);
  assert.deepEqual(checkPassword(`a1${'x'.repeat(31)}`, defaults), ['max_length']);
  // One emoji is one character (two UTF-16 units): 5 + 1 = 6, long enough, but invalid.
  assert.deepEqual(checkPassword('abc12😀', defaults), ['invalid_characters']);
  assert.deepEqual(checkPassword('abc1😀', defaults), ['min_length', 'invalid_characters']);
  // The system cap holds even if a policy object claims more.
  assert.deepEqual(checkPassword(`a1${'x'.repeat(31)}`, { ...defaults, max_length: 64 }), ['max_length']);
});

test('parseComplexityRules: object, JSON string and compact forms; unnamed classes keep defaults', () => {
  const expected: ComplexityRules = { latin: 'must', digits: 'must', lowercase: 'can', uppercase: 'must', special: 'cannot' };
  assert.deepEqual(parseComplexityRules({ uppercase: 'must', special: 'cannot' }), expected);
  assert.deepEqual(parseComplexityRules('{"uppercase":"must","special":"cannot"}'), expected);
  assert.deepEqual(parseComplexityRules(' uppercase:must , special : cannot '), expected);
  assert.deepEqual(parseComplexityRules('latin:must,digits:must,special:can'), DEFAULT_RULES);
  assert.deepEqual(parseComplexityRules({}), DEFAULT_RULES);
  assert.deepEqual(parseComplexityRules(''), DEFAULT_RULES);
  assert.deepEqual(parseComplexityRules({ digits: 'can' }), { ...DEFAULT_RULES, digits: 'can' });
  // The result is a fresh object: changing it does not change the defaults.
  const parsed = parseComplexityRules({});
  parsed.special = 'cannot';
  assert.equal(DEFAULT_RULES.special, 'can');
});

test('parseComplexityRules: clear errors for junk', () => {
  const fails = (input: unknown, pattern: RegExp): void => assert.throws(() => parseComplexityRules(input), pattern, JSON.stringify(input));
  fails({ symbols: 'must' }, /unknown character class "symbols"; expected one of latin, digits, lowercase, uppercase, special/);
  fails({ digits: 'required' }, /digits: unknown level "required"; expected one of must, can, cannot/);
  fails({ digits: true }, /digits: unknown level true/);
  fails('digits:always', /unknown level "always"/);
  fails('letters:must', /unknown character class "letters"/);
  fails('latin=must', /"latin=must" is not "class:level"/);
  fails('latin:must:now', /is not "class:level"/);
  fails('latin:must,,digits:can', /"" is not "class:level"/);
  fails('latin:must,latin:can', /"latin" is named more than once/);
  fails('{"digits": must}', /not valid JSON/);
  fails('{"__proto__": "must"}', /unknown character class "__proto__"/);
  fails(null, /expected an object, a JSON object string or "class:level,..." text, got null/);
  fails(undefined, /got undefined/);
  fails(42, /got 42/);
  fails(['latin:must'], /got an array/);
  fails('["latin"]', /is not "class:level"/);
});

test('parseComplexityRules refuses rules no password can meet', () => {
  assert.throws(() => parseComplexityRules('latin:cannot,uppercase:must'), /uppercase is "must" but other rules forbid every uppercase character/);
  assert.throws(() => parseComplexityRules('lowercase:cannot,uppercase:cannot'), /latin is "must" but other rules forbid every latin character/);
  assert.throws(() => parseComplexityRules('latin:cannot,digits:cannot,special:cannot'), /every character is forbidden/);
  // Consistent combinations are fine.
  assert.deepEqual(parseComplexityRules('latin:cannot,special:must'), { latin: 'cannot', digits: 'must', lowercase: 'can', uppercase: 'can', special: 'must' });
});

test('createPasswordPolicy validates the minimum length', () => {
  assert.deepEqual(createPasswordPolicy(8).min_length, 8);
  for (const bad of [0, 33, 6.5, Number.NaN]) assert.throws(() => createPasswordPolicy(bad), /minimum length must be an integer from 1 to 32/);
});

test('describePolicy: one sentence', () => {
  assert.equal(
    describePolicy(defaults),
    'Passwords must be 6 to 32 characters long, contain at least one Latin letter and one digit, and use only Latin letters, digits and the special characters !"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~ (no spaces or other characters).',
  );
  assert.equal(
    describePolicy(withRules({ uppercase: 'must', special: 'cannot', digits: 'can' }, 8)),
    'Passwords must be 8 to 32 characters long, contain at least one uppercase letter, and use only Latin letters and digits (no spaces or other characters).',
  );
  assert.equal(
    describePolicy({ min_length: 32, max_length: 32, rules: { latin: 'cannot', digits: 'must', lowercase: 'can', uppercase: 'can', special: 'cannot' } }),
    'Passwords must be exactly 32 characters long, contain at least one digit, and use only digits (no spaces or other characters).',
  );
});

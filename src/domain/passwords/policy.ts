/**
 * Web password complexity: PortaBilling's Web.PasswordMinLength and
 * Web.PasswordComplexityRules. Each character class is 'must' (at least one
 * character of it), 'can' (allowed) or 'cannot' (forbidden).
 *
 *   latin      A-Z a-z          lowercase  a-z
 *   digits     0-9              uppercase  A-Z
 *   special    printable ASCII punctuation !"#$%&'()*+,-./:;<=>?@[\]^_`{|}~
 *
 * Anything else (spaces, control characters, non-ASCII) is always refused.
 * Besides keeping passwords typeable on any keyboard, this keeps them pure
 * ASCII: 32 characters are then 32 bytes, well inside bcrypt's 72-byte input,
 * and there is no Unicode normalisation ambiguity (NIST SP 800-63B 5.1.1.2).
 *
 * checkPassword reports every violation at once so a user fixes them in one go
 * instead of discovering them one submission at a time.
 */
export type CharClass = 'latin' | 'digits' | 'lowercase' | 'uppercase' | 'special';
export type RuleLevel = 'must' | 'can' | 'cannot';
export type ComplexityRules = Record<CharClass, RuleLevel>;

export const CHAR_CLASSES: readonly CharClass[] = Object.freeze(['latin', 'digits', 'lowercase', 'uppercase', 'special'] as const);
const RULE_LEVELS: readonly RuleLevel[] = Object.freeze(['must', 'can', 'cannot'] as const);

/** Fixed by the system: bcrypt-safe (see hashing.ts) and what the web forms accept. */
export const MAX_PASSWORD_LENGTH = 32;
export const DEFAULT_MIN_LENGTH = 6;
export const DEFAULT_RULES: ComplexityRules = Object.freeze({ latin: 'must', digits: 'must', lowercase: 'can', uppercase: 'can', special: 'can' });

export interface PasswordPolicy {
  min_length: number;
  max_length: number;
  rules: ComplexityRules;
}

const SPECIAL_CHARACTERS = '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~';

/** The four kinds of allowed character; a class is a set of these. */
type Atom = 'lower' | 'upper' | 'digit' | 'special';
const ATOMS_OF: Record<CharClass, readonly Atom[]> = {
  latin: ['lower', 'upper'],
  digits: ['digit'],
  lowercase: ['lower'],
  uppercase: ['upper'],
  special: ['special'],
};
const CLASSES_OF: Record<Atom, readonly CharClass[]> = {
  lower: ['latin', 'lowercase'],
  upper: ['latin', 'uppercase'],
  digit: ['digits'],
  special: ['special'],
};

function atomOf(char: string): Atom | undefined {
  if (char >= 'a' && char <= 'z') return 'lower';
  if (char >= 'A' && char <= 'Z') return 'upper';
  if (char >= '0' && char <= '9') return 'digit';
  if (char.length === 1 && SPECIAL_CHARACTERS.includes(char)) return 'special';
  return undefined;
}

function isAllowed(atom: Atom, rules: ComplexityRules): boolean {
  return CLASSES_OF[atom].every((cls) => rules[cls] !== 'cannot');
}

function preview(value: unknown): string {
  const text = typeof value === 'string' ? JSON.stringify(value) : String(value);
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}

function fail(problem: string): never {
  throw new Error(`Password complexity rules: ${problem}`);
}

function isCharClass(value: string): value is CharClass {
  return (CHAR_CLASSES as readonly string[]).includes(value);
}

function isRuleLevel(value: unknown): value is RuleLevel {
  return typeof value === 'string' && (RULE_LEVELS as readonly string[]).includes(value);
}

function setRule(rules: ComplexityRules, cls: string, level: unknown): void {
  if (!isCharClass(cls)) fail(`unknown character class ${preview(cls)}; expected one of ${CHAR_CLASSES.join(', ')}`);
  if (!isRuleLevel(level)) fail(`${cls}: unknown level ${preview(level)}; expected one of ${RULE_LEVELS.join(', ')}`);
  rules[cls] = level;
}

/**
 * Rules no password could meet (e.g. latin:cannot with uppercase:must, or every
 * class forbidden) would lock everyone out of setting a password, so they are
 * refused when read rather than discovered by users.
 */
function assertSatisfiable(rules: ComplexityRules): void {
  const allowed = (['lower', 'upper', 'digit', 'special'] as const).filter((atom) => isAllowed(atom, rules));
  if (allowed.length === 0) fail('every character is forbidden, so no password is possible');
  for (const cls of CHAR_CLASSES) {
    if (rules[cls] === 'must' && !ATOMS_OF[cls].some((atom) => allowed.includes(atom))) {
      fail(`${cls} is "must" but other rules forbid every ${cls} character`);
    }
  }
}

export function parseComplexityRules(input: unknown): ComplexityRules {
  const rules: ComplexityRules = { ...DEFAULT_RULES };
  let source = input;
  if (typeof source === 'string') {
    const text = source.trim();
    if (text === '') return rules;
    if (text.startsWith('{')) {
      try {
        source = JSON.parse(text);
      } catch {
        fail('not valid JSON');
      }
    } else {
      const seen = new Set<string>();
      for (const item of text.split(',')) {
        const parts = item.split(':').map((part) => part.trim());
        const [cls = '', level = ''] = parts;
        if (parts.length !== 2 || cls === '' || level === '') fail(`${preview(item.trim())} is not "class:level" (e.g. "latin:must,digits:must,special:can")`);
        if (seen.has(cls)) fail(`${preview(cls)} is named more than once`);
        seen.add(cls);
        setRule(rules, cls, level);
      }
      assertSatisfiable(rules);
      return rules;
    }
  }
  if (typeof source !== 'object' || source === null || Array.isArray(source)) {
    fail(`expected an object, a JSON object string or "class:level,..." text, got ${Array.isArray(source) ? 'an array' : preview(source)}`);
  }
  for (const [cls, level] of Object.entries(source)) setRule(rules, cls, level);
  assertSatisfiable(rules);
  return rules;
}

/**
 * Builds a policy from the configured minimum length and rules. Not required
 * by checkPassword, but the one place that refuses a minimum the system's fixed
 * maximum makes impossible.
 */
export function createPasswordPolicy(minLength: number = DEFAULT_MIN_LENGTH, rules: ComplexityRules = DEFAULT_RULES): PasswordPolicy {
  if (!Number.isInteger(minLength) || minLength < 1 || minLength > MAX_PASSWORD_LENGTH) {
    throw new Error(`Password minimum length must be an integer from 1 to ${MAX_PASSWORD_LENGTH}, got ${preview(minLength)}`);
  }
  assertSatisfiable(rules);
  return { min_length: minLength, max_length: MAX_PASSWORD_LENGTH, rules: { ...rules } };
}

function effectiveMax(policy: PasswordPolicy): number {
  // The system cap holds whatever a policy object says (bcrypt input limit).
  return Math.min(policy.max_length, MAX_PASSWORD_LENGTH);
}

export function checkPassword(password: string, policy: PasswordPolicy): string[] {
  const chars = [...password]; // code points, so an astral character counts once
  const present = new Set<CharClass>();
  let invalid = false;
  for (const char of chars) {
    const atom = atomOf(char);
    if (atom === undefined) invalid = true;
    else for (const cls of CLASSES_OF[atom]) present.add(cls);
  }

  const violations: string[] = [];
  if (chars.length < policy.min_length) violations.push('min_length');
  if (chars.length > effectiveMax(policy)) violations.push('max_length');
  for (const cls of CHAR_CLASSES) if (policy.rules[cls] === 'must' && !present.has(cls)) violations.push(`must_include_${cls}`);
  for (const cls of CHAR_CLASSES) if (policy.rules[cls] === 'cannot' && present.has(cls)) violations.push(`cannot_include_${cls}`);
  if (invalid) violations.push('invalid_characters');
  return violations;
}

const SINGULAR: Record<CharClass, string> = {
  latin: 'Latin letter',
  digits: 'digit',
  lowercase: 'lowercase letter',
  uppercase: 'uppercase letter',
  special: 'special character',
};

function listing(items: string[], lastSeparator = ' and '): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')}${lastSeparator}${items[items.length - 1]}`;
}

export function describePolicy(policy: PasswordPolicy): string {
  const { rules } = policy;
  const max = effectiveMax(policy);
  const clauses: string[] = [policy.min_length === max ? `be exactly ${max} characters long` : `be ${policy.min_length} to ${max} characters long`];

  // "a lowercase letter" already implies "a Latin letter"; say only the stronger.
  const musts = CHAR_CLASSES.filter((cls) => rules[cls] === 'must').filter(
    (cls) => !(cls === 'latin' && (rules.lowercase === 'must' || rules.uppercase === 'must')),
  );
  if (musts.length > 0) clauses.push(`contain at least ${listing(musts.map((cls) => `one ${SINGULAR[cls]}`))}`);

  const allowed = (atom: Atom): boolean => isAllowed(atom, rules);
  const kinds: string[] = [];
  if (allowed('lower') && allowed('upper')) kinds.push('Latin letters');
  else if (allowed('lower')) kinds.push('lowercase Latin letters');
  else if (allowed('upper')) kinds.push('uppercase Latin letters');
  if (allowed('digit')) kinds.push('digits');
  if (allowed('special')) kinds.push(`the special characters ${SPECIAL_CHARACTERS}`);
  clauses.push(`use only ${listing(kinds)} (no spaces or other characters)`);

  // Serial comma between clauses: the items inside them are already "a, b and c" lists.
  return `Passwords must ${listing(clauses, clauses.length > 2 ? ', and ' : ' and ')}.`;
}

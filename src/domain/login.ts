/**
 * Logins as the service compares them. Two logins are the same when their
 * keys are: Unicode NFKC (compatibility forms such as fullwidth `ｒｏｏｔ`,
 * ligatures `ﬁ` or superscripts fold to their plain letters), then lower case
 * by the Unicode default mapping (String.prototype.toLowerCase, locale
 * independent), then NFKC again so that the key is stable. This is the case
 * mapping of RFC 8265 (PRECIS usernames, section 3.3.2), which chose
 * lower-casing over full case folding: `ß` stays distinct from `ss`, and the
 * final `ς` from `σ`. The login as typed is kept for display.
 */
export function loginKey(typed: string): string {
  return typed.normalize('NFKC').toLowerCase().normalize('NFKC');
}

/** Longest key, in characters (code points): the width of the `login_key` column. */
export const LOGIN_KEY_MAX = 64;

export const keyLength = (key: string): number => [...key].length;

/**
 * What counters (lockout, rate limits) of a login as typed are kept under:
 * its key, cut to the column's width, so `ＲＯＯＴ` and `root` share one
 * counter, and a login too long to exist still has one.
 */
export const counterKey = (typed: string): string => [...loginKey(typed)].slice(0, LOGIN_KEY_MAX).join('');

/**
 * What a new or changed login may not hold, in the login or its key (RFC 8264
 * section 9 disallows the same classes in identifiers): control and format
 * characters (bidi overrides and isolates, zero-width characters, the soft
 * hyphen), spaces and separators of any kind, private-use, surrogate and
 * unassigned code points, and anything else Unicode says to render as nothing
 * (Default_Ignorable_Code_Point: variation selectors, Hangul fillers).
 */
export const LOGIN_DISALLOWED = /[\p{C}\p{Z}\p{Default_Ignorable_Code_Point}]/u;

/** Why a new login cannot be used (undefined when it can). `typed` already meets the schema. */
export function newLoginProblem(typed: string): string | undefined {
  const key = loginKey(typed);
  if (LOGIN_DISALLOWED.test(key)) return 'it holds a character that turns into a space or an invisible character when normalized';
  if (keyLength(key) > LOGIN_KEY_MAX) return `it is longer than ${LOGIN_KEY_MAX} characters when normalized (NFKC)`;
  return undefined;
}

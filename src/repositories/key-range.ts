/**
 * The strings that start with `prefix` are exactly those in
 * `[prefix, upper)` under a binary (code point) collation: SQLite's default
 * BINARY and the `utf8mb4_nopad_bin` (or `_bin`) collation migration 007 gives
 * `login_key` on MariaDB/MySQL, since UTF-8 byte order is code point order.
 * A range on the unique key index, where `LIKE 'p%'` is a scan on SQLite.
 * `upper` is undefined when no string is above every extension of the prefix.
 */
export function prefixRange(prefix: string): { lower: string; upper?: string } {
  const points = [...prefix].map((c) => c.codePointAt(0) as number);
  while (points.length > 0) {
    const last = (points.pop() as number) + 1;
    if (last > 0x10ffff) continue;
    // Surrogates are not characters: the next one after U+D7FF is U+E000.
    points.push(last >= 0xd800 && last <= 0xdfff ? 0xe000 : last);
    return { lower: prefix, upper: String.fromCodePoint(...points) };
  }
  return { lower: prefix };
}

/** Of several prefixes, those not already covered by a shorter one (their ranges are then disjoint). */
export function disjointPrefixes(prefixes: string[]): string[] {
  const unique = [...new Set(prefixes)].sort((a, b) => a.length - b.length);
  return unique.filter((p, i) => !unique.slice(0, i).some((q) => p.startsWith(q)));
}

import { createHash } from 'node:crypto';
import type { Knex } from 'knex';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** Retention settings the seeded rows are laid out around. */
export const RETENTION = { SESSION_RETENTION: '1d', NOTIFY_RETENTION: '30d', AUDIT_RETENTION: '90d' } as const;

const hash = (text: string) => createHash('sha256').update(text).digest('hex');

type Row = Record<string, unknown>;

export interface SeededTable {
  table: string;
  /** A column whose value says which rows were seeded as deletable (`gone-…`) and which as kept (`kept-…`). */
  marker: string;
  gone: number;
  kept: number;
}

async function insertAll(knex: Knex, table: string, rows: Row[]): Promise<void> {
  for (let i = 0; i < rows.length; i += 100) await knex(table).insert(rows.slice(i, i + 100));
}

/**
 * `n` rows of every kind housekeeping deletes, beside rows of the same
 * tables it must keep (live, recent, or still counting something), laid out
 * around `now` and RETENTION. The marker column tells them apart afterwards.
 */
export async function seedRetentionRows(knex: Knex, now: number, n: number, tag = 's'): Promise<SeededTable[]> {
  const range = (count: number, f: (i: number) => Row) => Array.from({ length: count }, (_, i) => f(i));
  const session = (id: string, fields: Row): Row => ({
    id,
    realm: 'admin',
    principal_id: 1,
    amr: 'pwd',
    created_at: now - 2 * DAY,
    last_seen_at: now - 2 * DAY,
    expires_at: now + HOUR,
    ...fields,
  });
  // Session ids are 36 characters: the marker and a counter, padded.
  const sid = (kind: string, i: number) => `${kind}-${tag}-${i}`.padEnd(36, 'x');
  await insertAll(knex, 'sessions', [
    ...range(n, (i) => session(sid('gone', i), { expires_at: now - DAY - HOUR })),
    ...range(n, (i) => session(sid('gone-revoked', i), { revoked_at: now - DAY - HOUR, revoke_reason: 'logout' })),
    ...range(n, (i) => session(sid('kept', i), { last_seen_at: now })),
    ...range(n, (i) => session(sid('kept-revoked', i), { revoked_at: now - HOUR, revoke_reason: 'logout' })),
  ]);

  const challenge = (kind: string, i: number, expires: number): Row => ({
    token_hash: hash(`${kind}-${tag}-${i}`),
    realm: 'admin',
    principal_id: 1,
    kind: 'verify',
    ip: `${kind}-${i}`,
    created_at: now - HOUR,
    expires_at: expires,
  });
  await insertAll(knex, 'mfa_challenges', [
    ...range(n, (i) => ({ ...challenge('gone', i, now - 60_000), consumed_at: i % 2 ? now - 120_000 : null })),
    ...range(n, (i) => challenge('kept', i, now + 60_000)),
  ]);

  const reset = (kind: string, i: number, principal: number, expires: number): Row => ({
    realm: 'vendor',
    principal_id: principal,
    token_hash: hash(`reset-${kind}-${tag}-${i}`),
    ip: `${kind}-${i}`,
    created_at: now - HOUR,
    expires_at: expires,
  });
  await insertAll(knex, 'password_resets', [
    ...range(n, (i) => reset('gone', i, 1_000_000 + i, now - 1000)),
    ...range(n, (i) => reset('kept', i, 2_000_000 + i, now + 10 * 60_000)),
  ]);

  const windowStart = now - (now % 60_000);
  await insertAll(knex, 'rate_windows', [
    ...range(n, (i) => ({ rate_key: `gone-${tag}-${i}`, window_start: windowStart - 10 * 60_000, hits: 3 })),
    ...range(n, (i) => ({ rate_key: `kept-${tag}-${i}`, window_start: windowStart, hits: 3 })),
  ]);

  const guard = (key: string, fields: Row): Row => ({
    scope: 'login',
    guard_key: key,
    failures: 0,
    in_flight: 0,
    lock_count: 0,
    locked_until: null,
    updated_at: now - HOUR,
    ...fields,
  });
  const third = Math.ceil(n / 3);
  await insertAll(knex, 'login_guards', [
    // A claim of a call that died an hour ago (stale), nothing else: as good as no row.
    ...range(n, (i) => guard(`gone-${tag}-${i}`, { in_flight: i % 2 })),
    ...range(third, (i) => guard(`kept-failures-${tag}-${i}`, { failures: 2 })),
    ...range(third, (i) => guard(`kept-locks-${tag}-${i}`, { lock_count: 1 })),
    ...range(n - 2 * third, (i) => guard(`kept-recent-${tag}-${i}`, { updated_at: now - 60_000 })),
  ]);

  const mail = (kind: string, i: number, status: string, created: number): Row => ({
    kind: 'login_otp_failure',
    realm: 'admin',
    principal_id: 1,
    recipient: `${kind}-${tag}-${i}@example.com`,
    data: '{}',
    status,
    attempts: 1,
    next_attempt_at: created,
    created_at: created,
  });
  await insertAll(knex, 'notifications', [
    ...range(n, (i) => mail('gone', i, i % 2 ? 'sent' : 'failed', now - 31 * DAY)),
    ...range(n, (i) => mail('kept', i, i % 2 ? 'pending' : 'sending', now - 31 * DAY)),
    ...range(n, (i) => mail('kept', i, 'sent', now - DAY)),
  ]);

  await insertAll(knex, 'audit_log', [
    ...range(n, (i) => ({ at: now - 91 * DAY + i, event: 'test.old', details: JSON.stringify({ marker: `gone-${tag}-${i}` }), ip: `gone-${i}` })),
    ...range(n, (i) => ({ at: now - DAY + i, event: 'test.recent', details: JSON.stringify({ marker: `kept-${tag}-${i}` }), ip: `kept-${i}` })),
  ]);

  return [
    { table: 'sessions', marker: 'id', gone: 2 * n, kept: 2 * n },
    { table: 'mfa_challenges', marker: 'ip', gone: n, kept: n },
    { table: 'password_resets', marker: 'ip', gone: n, kept: n },
    { table: 'rate_windows', marker: 'rate_key', gone: n, kept: n },
    { table: 'login_guards', marker: 'guard_key', gone: n, kept: n },
    { table: 'notifications', marker: 'recipient', gone: n, kept: 2 * n },
    { table: 'audit_log', marker: 'ip', gone: n, kept: n },
  ];
}

/** Seeded rows left in a table: how many of each marker kind. */
export async function countLeft(knex: Knex, seeded: SeededTable): Promise<{ gone: number; kept: number }> {
  const count = async (prefix: string) => {
    const [row] = (await knex(seeded.table).where(seeded.marker, 'like', `${prefix}-%`).count({ n: '*' })) as Array<{ n: number | string }>;
    return Number(row?.n ?? 0);
  };
  return { gone: await count('gone'), kept: await count('kept') };
}

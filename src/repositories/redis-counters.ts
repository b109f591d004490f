import type { Redis } from 'ioredis';
import { STALE_CLAIM_MS } from './login-guards.js';

/**
 * The per-IP brute-force counter and the rate windows in Redis (REDIS_URL):
 * the rows that every login through one balancer or portal server would
 * otherwise update, so that logins through one IP never contend on a
 * database row (on Galera multi-writer, a certification conflict each).
 *
 * Same model as the `login_guards` rows (see login-guards.ts), one Lua
 * script per step so that each is atomic across replicas:
 *
 *     failures + claims in flight <= threshold, while not locked
 *
 * Each counter step names the attempt it is for, which makes it safe to
 * repeat (Redis does not roll back with a database transaction, and a claim
 * is asked again while it waits for slots): a claim already held is held
 * once; an outcome for a claim already resolved changes nothing. These steps
 * never run inside a database transaction (see auth/guard.ts, auth/attempt.ts).
 * A call counts once in a rate window because it asks once (auth/guard.ts).
 *
 * Times are the service clock's (passed in), so tests can move them; only the
 * expiry of keys (PEXPIRE) is Redis's own, and is always longer than what the
 * key must remember.
 */

/** `state` hash: failures, lock_count, locked_until. `claims` sorted set: attempt id -> claimed at. */
const CLAIM = `
local now = tonumber(ARGV[2])
local threshold = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[4])
if redis.call('ZSCORE', KEYS[2], ARGV[1]) then return {1, 0} end
local s = redis.call('HMGET', KEYS[1], 'failures', 'locked_until')
local failures = tonumber(s[1]) or 0
local lockedUntil = tonumber(s[2]) or 0
if lockedUntil > now then return {0, lockedUntil} end
if math.min(failures, threshold - 1) + redis.call('ZCARD', KEYS[2]) >= threshold then return {0, 0} end
redis.call('ZADD', KEYS[2], now, ARGV[1])
redis.call('PEXPIRE', KEYS[2], ARGV[5])
return {1, 0}
`;

/** The lock length is lockDuration() of domain/lockout.ts: base doubled per further lock, at most max. */
const FAIL = `
if redis.call('ZREM', KEYS[2], ARGV[1]) == 0 then return 0 end
local now = tonumber(ARGV[2])
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
local lockedUntil = 0
if failures >= tonumber(ARGV[3]) then
  local n = redis.call('HINCRBY', KEYS[1], 'lock_count', 1)
  local length = math.min(tonumber(ARGV[4]) * 2 ^ math.min(math.max(n - 1, 0), 30), tonumber(ARGV[5]))
  lockedUntil = now + length
  redis.call('HMSET', KEYS[1], 'failures', 0, 'locked_until', string.format('%.0f', lockedUntil))
end
redis.call('PEXPIRE', KEYS[1], math.max(lockedUntil - now, 0) + tonumber(ARGV[6]))
return lockedUntil
`;

const SUCCEED = `
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('DEL', KEYS[1])
return 1
`;

/** One counter per window; it expires with the window. */
const HIT = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n
`;

interface GuardCommands {
  guardClaim(state: string, claims: string, id: string, now: number, threshold: number, staleBefore: number, claimsTtl: number): Promise<[number, number]>;
  guardFail(state: string, claims: string, id: string, now: number, threshold: number, lockBase: number, lockMax: number, keep: number): Promise<number>;
  guardSucceed(state: string, claims: string, id: string): Promise<number>;
  rateHit(window: string, ttl: number): Promise<number>;
}

type GuardRedis = Redis & GuardCommands;

export interface LockPolicy {
  /** LOCKOUT_DURATION: the first lock. */
  base: number;
  /** LOCKOUT_MAX: the longest lock, and how long an IP's failures are remembered after its last one. */
  max: number;
}

const defined = new WeakSet<Redis>();

function withCommands(redis: Redis): GuardRedis {
  if (!defined.has(redis)) {
    // defineCommand sends EVALSHA and falls back to EVAL once per connection; ioredis prefixes the KEYS.
    redis.defineCommand('guardClaim', { numberOfKeys: 2, lua: CLAIM });
    redis.defineCommand('guardFail', { numberOfKeys: 2, lua: FAIL });
    redis.defineCommand('guardSucceed', { numberOfKeys: 2, lua: SUCCEED });
    redis.defineCommand('rateHit', { numberOfKeys: 1, lua: HIT });
    defined.add(redis);
  }
  return redis as GuardRedis;
}

// One hash tag for both keys of a counter: a script touches both, and a Redis Cluster wants them in one slot.
const keysOf = (scope: string, key: string) => [`guard:{${scope}:${key}}`, `guard:{${scope}:${key}}:claims`] as const;

export type RedisClaim = { ok: true } | { ok: false; locked: true; lockedUntil: number } | { ok: false; locked: false };

export function createRedisCounters(client: Redis) {
  const redis = withCommands(client);
  return {
    /** Reserves one attempt `id` (again: it stays reserved once), or says why not (see ClaimRefusal in login-guards.ts). */
    async claim(scope: string, key: string, threshold: number, id: string, now: number): Promise<RedisClaim> {
      const [state, claims] = keysOf(scope, key);
      const [ok, lockedUntil] = await redis.guardClaim(state, claims, id, now, threshold, now - STALE_CLAIM_MS, STALE_CLAIM_MS);
      if (ok === 1) return { ok: true };
      return lockedUntil > 0 ? { ok: false, locked: true, lockedUntil } : { ok: false, locked: false };
    },

    /** Attempt `id` failed: its claim becomes a failure; the one that reaches the threshold locks. Returns the lock end when this call locked. */
    async failed(scope: string, key: string, threshold: number, id: string, now: number, lock: LockPolicy): Promise<number | undefined> {
      const [state, claims] = keysOf(scope, key);
      const until = await redis.guardFail(state, claims, id, now, threshold, lock.base, lock.max, lock.max);
      return until > 0 ? until : undefined;
    },

    /** Attempt `id` ends without a verdict: its claim is given back. */
    async release(scope: string, key: string, id: string): Promise<void> {
      const [, claims] = keysOf(scope, key);
      await redis.zrem(claims, id);
    },

    /** Attempt `id` succeeded: its claim is given back and every failure and lock forgiven. */
    async succeeded(scope: string, key: string, id: string): Promise<void> {
      const [state, claims] = keysOf(scope, key);
      await redis.guardSucceed(state, claims, id);
    },

    /** Counts one hit in the window of `key` containing `now`; returns the hits so far in it. */
    async hit(key: string, windowMs: number, now: number): Promise<{ hits: number; windowEnd: number }> {
      const windowStart = now - (now % windowMs);
      const hits = await redis.rateHit(`rate:{${key}}:${windowStart}`, windowMs);
      return { hits, windowEnd: windowStart + windowMs };
    },
  };
}

export type RedisCounters = ReturnType<typeof createRedisCounters>;

import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { lockDuration, retryAfterSeconds } from '../domain/lockout.js';
import type { GuardScope } from '../repositories/login-guards.js';
import { createRedisCounters, type RedisCounters } from '../repositories/redis-counters.js';
import { Fault } from '../rpc/faults.js';
import type { CallContext } from '../rpc/registry.js';
import type { Transaction } from '../repositories/writer.js';
import { attemptOf, type Attempt, type Claimed, type Counter } from './attempt.js';

export type { Attempt } from './attempt.js';

const RATE_WINDOW_MS = 60_000;

function rateLimited(windowEnd: number, now: number, message?: string): Fault {
  return new Fault('Client.Request.rate_limited', message, { retry_after: retryAfterSeconds(windowEnd, now) });
}

/**
 * Every free slot of a counter is held by attempts still being evaluated
 * (none of them a failure yet): thrown while claiming so that the claim
 * transaction rolls back whole, and `waitingForSlots` tries again.
 */
class SlotsInFlight extends Error {
  constructor() {
    super('every brute-force slot is held by attempts in flight');
  }
}

/**
 * How long an attempt waits for attempts in flight to resolve before it is
 * refused. Each of them is one bcrypt check or one code check, so slots
 * free up within a fraction of that even for a crowd behind one IP.
 */
const SLOT_WAIT_MS = 10_000;
const SLOT_POLL_FIRST_MS = 10;
const SLOT_POLL_MAX_MS = 200;

/**
 * The state of one call's guard in Redis, which does not roll back with the
 * database: the call's id (its claims and rate hits are named by it, so a
 * claim transaction run again counts them once) and the Redis claims it holds
 * that no Attempt has taken over yet, given back if the claim fails.
 */
interface CallGuard {
  id: string;
  unreported: Set<string>;
  /** The call's hit in each Redis rate window: asked again (it waited for slots), it is not counted again. */
  hits: Map<string, { hits: number; windowEnd: number }>;
}

const calls = new WeakMap<CallContext, CallGuard>();

function callGuard(ctx: CallContext): CallGuard {
  let guard = calls.get(ctx);
  if (!guard) calls.set(ctx, (guard = { id: randomUUID(), unreported: new Set(), hits: new Map() }));
  return guard;
}

const redisCounters = new WeakMap<Redis, RedisCounters>();

/** The per-IP counters and rate windows in Redis when REDIS_URL is set, else undefined (they are rows). */
function redisOf(app: FastifyInstance): RedisCounters | undefined {
  const { redis } = app;
  if (!redis) return undefined;
  let counters = redisCounters.get(redis);
  if (!counters) redisCounters.set(redis, (counters = createRedisCounters(redis)));
  return counters;
}

/** Gives back the Redis claims of a claim transaction that did not produce an Attempt. */
async function releaseUnreported(ctx: CallContext): Promise<void> {
  const guard = calls.get(ctx);
  const redis = redisOf(ctx.app);
  if (!guard || !redis) return;
  const keys = [...guard.unreported];
  guard.unreported.clear();
  await Promise.all(keys.map((key) => redis.release('ip', key, guard.id)));
}

/**
 * Runs `claim` until it is not refused for attempts in flight: a right
 * password or code is never refused because others were being checked
 * beside it, only because of failures. Waits outside any transaction, with
 * jittered backoff; real time, not the service clock, since it bounds how
 * long a caller hangs. Past SLOT_WAIT_MS it refuses as a lock would, for a
 * second. A claim that ends in anything but an Attempt gives back what it
 * claimed in Redis (the database rolled back its part, or committed its
 * release with a refusal).
 */
async function waitingForSlots(ctx: CallContext, claim: () => Promise<Attempt | Fault>): Promise<Attempt> {
  const deadline = Date.now() + SLOT_WAIT_MS;
  for (let pause = SLOT_POLL_FIRST_MS; ; pause = Math.min(pause * 2, SLOT_POLL_MAX_MS)) {
    try {
      const claimed = await claim();
      if (claimed instanceof Fault) throw claimed;
      // The Attempt owns its claims from here on.
      calls.get(ctx)?.unreported.clear();
      return claimed;
    } catch (err) {
      await releaseUnreported(ctx);
      if (!(err instanceof SlotsInFlight)) throw err;
      if (Date.now() >= deadline) throw new Fault('Server.Session.cannot_login_brute_force_activity', undefined, { retry_after: 1 });
    }
    await sleep(pause / 2 + Math.random() * pause);
  }
}

/**
 * Brute-force protection for one login attempt (NIST SP 800-63B 5.2.2):
 * a per-portal-client rate window when a portal client made the call, a
 * per-IP rate window (the end user's IP, when a portal named it), then a claimed slot in the per-IP and per-login
 * failure counters. A locked login is refused before its password is
 * looked at, whether or not the password is right, and an unknown login is
 * counted and locked the same way, so the answers reveal nothing.
 *
 * With REDIS_URL the per-IP counter and the rate windows are in Redis (see
 * repositories/redis-counters.ts): every login through one balancer or portal
 * server shares them, and as rows they would make those logins contend. The
 * per-login counter stays a row: only attempts on one login share it.
 */
export async function guardAttempt(ctx: CallContext, realm: string, loginKey: string): Promise<Attempt> {
  return waitingForSlots(ctx, () => claimScopes(ctx, [ipScope(ctx), ['login', `${realm}:${loginKey}`, ctx.app.config.LOCKOUT_THRESHOLD]]));
}

/**
 * Guessing a bearer secret that names no login (a password reset token):
 * the per-IP rate window and the per-IP failure counter, as `guardAttempt`
 * applies them to codes. There is no login to lock: a wrong token names none.
 */
export async function guardIpAttempt(ctx: CallContext): Promise<Attempt> {
  return waitingForSlots(ctx, () => claimScopes(ctx, [ipScope(ctx)]));
}

/**
 * Counts one call in the client IP's window of RATE_LIMIT_LOGIN calls per
 * minute, which every password and code check shares. Returns the refusal
 * (not thrown, so that the caller commits the hit before throwing it). In
 * Redis (never inside a transaction) a call counts once however often it
 * asks, as the rows count a hit rolled back with a claim that waits only once.
 */
export async function hitLoginRate(ctx: CallContext, trx: Transaction | undefined): Promise<Fault | undefined> {
  const { app } = ctx;
  const now = app.clock.now();
  const redis = redisOf(app);
  const hit = async (key: string) => {
    if (!redis) return app.repos.rateWindows.hit(key, RATE_WINDOW_MS, now, trx);
    const { hits } = callGuard(ctx);
    let counted = hits.get(key);
    if (!counted) hits.set(key, (counted = await redis.hit(key, RATE_WINDOW_MS, now)));
    return counted;
  };
  // A portal client names its end users' IPs: its own window bounds what it can spread over them.
  if (ctx.portalClientId !== undefined) {
    const portal = await hit(`portal:${ctx.portalClientId}`);
    if (portal.hits > app.config.PORTAL_RATE_LIMIT)
      return rateLimited(portal.windowEnd, now, 'Too many password or code checks through this portal client (PORTAL_RATE_LIMIT); try again later');
  }
  const rate = await hit(`login:${ctx.ip}`);
  return rate.hits > app.config.RATE_LIMIT_LOGIN ? rateLimited(rate.windowEnd, now) : undefined;
}

type Scope = [GuardScope, string, number];
const ipScope = (ctx: CallContext): Scope => ['ip', ctx.ip, ctx.app.config.LOCKOUT_IP_THRESHOLD];

function counterFor(ctx: CallContext, [scope, key, threshold]: Scope): Counter {
  const { app } = ctx;
  const { config } = app;
  const lockMs = (n: number) => lockDuration(n, config.LOCKOUT_DURATION, config.LOCKOUT_MAX);
  const redis = scope === 'ip' ? redisOf(app) : undefined;
  if (redis) {
    const guard = callGuard(ctx);
    return {
      inDatabase: false,
      async claim(now) {
        guard.unreported.add(key);
        return redis.claim(scope, key, threshold, guard.id, now);
      },
      failed: (now) => redis.failed(scope, key, threshold, guard.id, now, { base: config.LOCKOUT_DURATION, max: config.LOCKOUT_MAX }),
      release: () => redis.release(scope, key, guard.id),
      succeeded: () => redis.succeeded(scope, key, guard.id),
    };
  }
  const guards = app.repos.loginGuards;
  return {
    inDatabase: true,
    async claim(now, trx) {
      const claim = await guards.claim(scope, key, threshold, now, trx);
      if (claim.ok) return claim;
      const until = claim.row?.locked_until;
      return { ok: false, locked: claim.locked, lockedUntil: until == null ? undefined : Number(until) };
    },
    failed: (now, trx) => guards.failed(scope, key, threshold, now, lockMs, trx),
    release: (now, trx) => guards.release(scope, key, now, trx),
    succeeded: (now, trx) => guards.succeeded(scope, key, now, trx),
  };
}

/**
 * Claims a slot of each counter in turn. A refusal for a lock gives back the
 * database slots claimed so far in `trx` and is returned (so the transaction
 * commits it with the hit); one for attempts in flight throws SlotsInFlight
 * (the transaction rolls back). Redis claims are given back by waitingForSlots.
 */
async function claimEach(ctx: CallContext, counters: Claimed, trx: Transaction | undefined): Promise<Fault | undefined> {
  const now = ctx.app.clock.now();
  for (const [i, { counter }] of counters.entries()) {
    const claim = await counter.claim(now, trx);
    if (claim.ok) continue;
    if (!claim.locked) throw new SlotsInFlight();
    // Give back what this attempt already claimed: it was never evaluated.
    for (const c of counters.slice(0, i)) if (c.counter.inDatabase) await c.counter.release(now, trx);
    const until = claim.lockedUntil && claim.lockedUntil > now ? claim.lockedUntil : now + ctx.app.config.LOCKOUT_DURATION;
    return new Fault('Server.Session.cannot_login_brute_force_activity', undefined, { retry_after: retryAfterSeconds(until, now) });
  }
  return undefined;
}

/**
 * The rate windows, then a slot of every counter. What lives in Redis is
 * claimed first, outside any database transaction (a transaction must not
 * wait for another server while it holds its locks: on SQLite that is the
 * whole file's write lock); then the database counters, in one short
 * transaction (with the rate windows when they are rows).
 */
async function claimScopes(ctx: CallContext, scopes: Scope[]): Promise<Attempt | Fault> {
  const { app } = ctx;
  const counters: Claimed = scopes.map((scope) => ({ scope: scope[0], counter: counterFor(ctx, scope) }));
  const inRedis = counters.filter((c) => !c.counter.inDatabase);
  const inDatabase = counters.filter((c) => c.counter.inDatabase);
  const ratesInRedis = redisOf(app) !== undefined;
  if (ratesInRedis) {
    const refused = (await hitLoginRate(ctx, undefined)) ?? (await claimEach(ctx, inRedis, undefined));
    if (refused) return refused;
  }
  if (inDatabase.length > 0 || !ratesInRedis) {
    const refused = await app.db.writer.transaction(async (ex) => {
      // Rolled back with the slots when they are in flight: the retry counts the hit again.
      if (!ratesInRedis) {
        const limited = await hitLoginRate(ctx, ex);
        if (limited) return limited;
      }
      return claimEach(ctx, inDatabase, ex);
    });
    if (refused) return refused;
  }
  return attemptOf(ctx, counters);
}

/** Forgets the failures of a login (an admin reset its 2FA key or password). */
export async function clearLoginGuard(app: FastifyInstance, realm: string, loginKey: string): Promise<void> {
  await app.repos.loginGuards.forgive('login', `${realm}:${loginKey}`, app.clock.now());
}

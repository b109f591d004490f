import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { lockDuration, retryAfterSeconds } from '../domain/lockout.js';
import type { GuardScope } from '../repositories/login-guards.js';
import { createRedisCounters, type RedisCounters } from '../repositories/redis-counters.js';
import { Fault } from '../rpc/faults.js';
import type { CallContext } from '../rpc/registry.js';
import { committed, type Transaction } from '../repositories/writer.js';

const RATE_WINDOW_MS = 60_000;

/**
 * A claimed attempt: exactly one of its outcomes is reported. Each outcome
 * takes the caller's transaction, so that it commits with what it concludes
 * (a success with its session), or runs in one of its own.
 */
export interface Attempt {
  /** Wrong password or code. Returns the lock end when this failure locked the login. */
  failed(trx?: Transaction): Promise<number | undefined>;
  /** Right password, another factor still to come. */
  passed(trx?: Transaction): Promise<void>;
  /** Fully logged in. */
  succeeded(trx?: Transaction): Promise<void>;
  /**
   * Call in `finally`: gives the slot back if no outcome was reported (the
   * call failed for another reason), so a slot can never leak and leave the
   * counter full without a lock.
   */
  abandon(): Promise<void>;
}

function rateLimited(windowEnd: number, now: number, message?: string): Fault {
  return new Fault('Client.Request.rate_limited', message, { retry_after: retryAfterSeconds(windowEnd, now) });
}

/**
 * Every free slot of a counter is held by attempts still being evaluated
 * (none of them a failure yet): thrown by `claimAttempt` so that the caller's
 * transaction rolls back whole, and `waitingForSlots` tries again.
 */
export class SlotsInFlight extends Error {
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
}

const calls = new WeakMap<CallContext, CallGuard>();

function callGuard(ctx: CallContext): CallGuard {
  let guard = calls.get(ctx);
  if (!guard) calls.set(ctx, (guard = { id: randomUUID(), unreported: new Set() }));
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
 * Runs `claim` (a transaction that claims an attempt) until it is not
 * refused for attempts in flight: a right password or code is never refused
 * because others were being checked beside it, only because of failures.
 * Waits outside any transaction, with jittered backoff; real time, not the
 * service clock, since it bounds how long a caller hangs. Past SLOT_WAIT_MS
 * it refuses as a lock would, for a second. A claim that fails any other way
 * gives back what it claimed in Redis (the database rolled back its part).
 */
export async function waitingForSlots<T>(ctx: CallContext, claim: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + SLOT_WAIT_MS;
  for (let pause = SLOT_POLL_FIRST_MS; ; pause = Math.min(pause * 2, SLOT_POLL_MAX_MS)) {
    try {
      const claimed = await claim();
      // A refusal (a Fault) left nothing claimed; an Attempt owns its claims from here on.
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
  const claimed = await waitingForSlots(ctx, () => ctx.app.db.writer.transaction((ex) => claimAttempt(ctx, realm, loginKey, ex)));
  if (claimed instanceof Fault) throw claimed;
  return claimed;
}

/**
 * Guessing a bearer secret that names no login (a password reset token):
 * the per-IP rate window and the per-IP failure counter, as `guardAttempt`
 * applies them to codes. There is no login to lock: a wrong token names none.
 */
export async function guardIpAttempt(ctx: CallContext): Promise<Attempt> {
  const claimed = await waitingForSlots(ctx, () =>
    redisOf(ctx.app) ? claimScopes(ctx, [ipScope(ctx)], undefined) : ctx.app.db.writer.transaction((ex) => claimScopes(ctx, [ipScope(ctx)], ex)),
  );
  if (claimed instanceof Fault) throw claimed;
  return claimed;
}

/**
 * Counts one call in the client IP's window of RATE_LIMIT_LOGIN calls per
 * minute, which every password and code check shares. Returns the refusal
 * (not thrown, so that the caller commits the hit before throwing it). In
 * Redis a call counts once however often its transaction runs.
 */
export async function hitLoginRate(ctx: CallContext, trx: Transaction | undefined): Promise<Fault | undefined> {
  const { app } = ctx;
  const now = app.clock.now();
  const redis = redisOf(app);
  const hit = (key: string, limit: number) =>
    redis ? redis.hit(key, RATE_WINDOW_MS, limit, callGuard(ctx).id, now) : app.repos.rateWindows.hit(key, RATE_WINDOW_MS, now, trx);
  // A portal client names its end users' IPs: its own window bounds what it can spread over them.
  if (ctx.portalClientId !== undefined) {
    const portal = await hit(`portal:${ctx.portalClientId}`, app.config.PORTAL_RATE_LIMIT);
    if (portal.hits > app.config.PORTAL_RATE_LIMIT)
      return rateLimited(portal.windowEnd, now, 'Too many password or code checks through this portal client (PORTAL_RATE_LIMIT); try again later');
  }
  const rate = await hit(`login:${ctx.ip}`, app.config.RATE_LIMIT_LOGIN);
  return rate.hits > app.config.RATE_LIMIT_LOGIN ? rateLimited(rate.windowEnd, now) : undefined;
}

type Scope = [GuardScope, string, number];
const ipScope = (ctx: CallContext): Scope => ['ip', ctx.ip, ctx.app.config.LOCKOUT_IP_THRESHOLD];

/**
 * `guardAttempt` inside the caller's transaction. A refusal is returned, not
 * thrown, so that the caller commits the hit and the given-back slots before
 * throwing it. Slots held only by attempts in flight throw SlotsInFlight
 * instead: run the caller's transaction under `waitingForSlots`.
 */
export async function claimAttempt(ctx: CallContext, realm: string, loginKey: string, trx: Transaction): Promise<Attempt | Fault> {
  return claimScopes(ctx, [ipScope(ctx), ['login', `${realm}:${loginKey}`, ctx.app.config.LOCKOUT_THRESHOLD]], trx);
}

/**
 * Where one counter lives: the per-IP one in Redis when REDIS_URL is set, the
 * others in the database. Steps in Redis take effect at once (named by the
 * attempt, so repeating one changes nothing); steps in the database commit
 * with the transaction given, or one of their own.
 */
interface Counter {
  claim(now: number, trx: Transaction | undefined): Promise<{ ok: true } | { ok: false; locked: boolean; lockedUntil?: number }>;
  failed(now: number, trx: Transaction | undefined): Promise<number | undefined>;
  release(now: number, trx: Transaction | undefined): Promise<void>;
  succeeded(now: number, trx: Transaction | undefined): Promise<void>;
  inDatabase: boolean;
}

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

async function claimScopes(ctx: CallContext, scopes: Scope[], trx: Transaction | undefined): Promise<Attempt | Fault> {
  const { app } = ctx;
  const now = app.clock.now();
  const { config } = app;

  const limited = await hitLoginRate(ctx, trx);
  if (limited) return limited;

  const claimed: Array<{ scope: GuardScope; counter: Counter }> = [];
  for (const scope of scopes) {
    const counter = counterFor(ctx, scope);
    const claim = await counter.claim(now, trx);
    if (!claim.ok) {
      // The database part rolls back (SlotsInFlight) or commits (a lock) with the transaction; Redis claims are given back now.
      for (const c of claimed) if (!c.counter.inDatabase || claim.locked) await c.counter.release(now, trx);
      // Rolls back the hit and the slots claimed so far: the retry counts them again.
      if (!claim.locked) throw new SlotsInFlight();
      const until = claim.lockedUntil && claim.lockedUntil > now ? claim.lockedUntil : now + config.LOCKOUT_DURATION;
      return new Fault('Server.Session.cannot_login_brute_force_activity', undefined, { retry_after: retryAfterSeconds(until, now) });
    }
    claimed.push({ scope: scope[0], counter });
  }
  return attemptOf(ctx, claimed);
}

/**
 * The Attempt over the claimed counters. Its outcome counts only once the
 * transaction it was reported in committed: one that rolled back (and was
 * not run again, e.g. it answered 503 when the retry bound ran out) leaves the
 * slots claimed, and `abandon` gives them back then, not a minute later.
 *
 * Redis steps of an outcome run in the order of the database ones, after
 * them; Redis failing there is logged and leaves its claim to expire as
 * stale (STALE_CLAIM_MS): never given back early, so Redis going away can
 * never let a guess through uncounted, and never undoes the database part.
 */
function attemptOf(ctx: CallContext, claimed: Array<{ scope: GuardScope; counter: Counter }>): Attempt {
  const { app } = ctx;
  /** The transaction the outcome was reported in, and whether it committed. */
  let reported: { trx: Transaction | undefined; committed: Promise<boolean> } | undefined;
  let settled = false;

  const isSettled = async (trx: Transaction | undefined) => {
    if (settled) return true;
    if (!reported) return false;
    if (trx !== undefined && reported.trx === trx) throw new Error('an attempt reports one outcome per transaction');
    settled = await reported.committed;
    return settled;
  };

  const inRedis = async <T>(step: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await step();
    } catch (err) {
      ctx.log.error({ err: { message: (err as Error).message } }, 'redis: a brute-force claim stays held until it expires');
      return undefined;
    }
  };

  /** Runs `act` on every claimed counter, database ones in `trx` (or a transaction of their own), Redis ones after them. */
  const report = async <T>(trx: Transaction | undefined, act: (c: Counter, t: Transaction | undefined) => Promise<T>): Promise<Array<T | undefined>> => {
    if (await isSettled(trx)) return [];
    const database = claimed.filter((c) => c.counter.inDatabase);
    const run = async (t: Transaction | undefined) => {
      const results = new Map<Counter, T | undefined>();
      for (const { counter } of database) results.set(counter, await act(counter, t));
      return results;
    };
    let results: Map<Counter, T | undefined>;
    if (trx !== undefined) {
      reported = { trx, committed: committed(trx) };
      results = await run(trx);
    } else if (database.length > 0) {
      const own = app.db.writer.transaction((ex) => run(ex));
      reported = { trx: undefined, committed: own.then(() => true, () => false) };
      results = await own;
    } else {
      results = new Map();
      reported = { trx: undefined, committed: Promise.resolve(true) };
    }
    for (const { counter } of claimed) if (!counter.inDatabase) results.set(counter, await inRedis(() => act(counter, undefined)));
    return claimed.map(({ counter }) => results.get(counter));
  };

  return {
    async failed(trx) {
      const locks = await report(trx, (c, t) => c.failed(app.clock.now(), t));
      return locks.find((until, i) => claimed[i]?.scope === 'login' && until !== undefined);
    },
    async passed(trx) {
      await report(trx, (c, t) => c.release(app.clock.now(), t));
    },
    async succeeded(trx) {
      await report(trx, (c, t) => c.succeeded(app.clock.now(), t));
    },
    async abandon() {
      if (await isSettled(undefined)) return;
      // The outcome (if any) rolled back: give every slot back, in a transaction of its own.
      reported = undefined;
      await report(undefined, (c, t) => c.release(app.clock.now(), t));
      settled = true;
    },
  };
}

/** Forgets the failures of a login (an admin reset its 2FA key or password). */
export async function clearLoginGuard(app: FastifyInstance, realm: string, loginKey: string): Promise<void> {
  await app.repos.loginGuards.forgive('login', `${realm}:${loginKey}`, app.clock.now());
}

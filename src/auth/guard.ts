import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import { lockDuration, retryAfterSeconds } from '../domain/lockout.js';
import type { GuardRow, GuardScope } from '../repositories/login-guards.js';
import { Fault } from '../rpc/faults.js';
import type { CallContext } from '../rpc/registry.js';
import type { Transaction } from '../repositories/writer.js';

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

function bruteForce(row: GuardRow | undefined, now: number, fallbackMs: number): Fault {
  const until = row?.locked_until && row.locked_until > now ? row.locked_until : now + fallbackMs;
  return new Fault('Server.Session.cannot_login_brute_force_activity', undefined, { retry_after: retryAfterSeconds(until, now) });
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
 * Runs `claim` (a transaction that claims an attempt) until it is not
 * refused for attempts in flight: a right password or code is never refused
 * because others were being checked beside it, only because of failures.
 * Waits outside any transaction, with jittered backoff; real time, not the
 * service clock, since it bounds how long a caller hangs. Past SLOT_WAIT_MS
 * it refuses as a lock would, for a second.
 */
export async function waitingForSlots<T>(claim: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + SLOT_WAIT_MS;
  for (let pause = SLOT_POLL_FIRST_MS; ; pause = Math.min(pause * 2, SLOT_POLL_MAX_MS)) {
    try {
      return await claim();
    } catch (err) {
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
 */
export async function guardAttempt(ctx: CallContext, realm: string, loginKey: string): Promise<Attempt> {
  const claimed = await waitingForSlots(() => ctx.app.db.writer.transaction((ex) => claimAttempt(ctx, realm, loginKey, ex)));
  if (claimed instanceof Fault) throw claimed;
  return claimed;
}

/**
 * Guessing a bearer secret that names no login (a password reset token):
 * the per-IP rate window and the per-IP failure counter, as `guardAttempt`
 * applies them to codes. There is no login to lock: a wrong token names none.
 */
export async function guardIpAttempt(ctx: CallContext): Promise<Attempt> {
  const claimed = await waitingForSlots(() => ctx.app.db.writer.transaction((ex) => claimScopes(ctx, [ipScope(ctx)], ex)));
  if (claimed instanceof Fault) throw claimed;
  return claimed;
}

/**
 * Counts one call in the client IP's window of RATE_LIMIT_LOGIN calls per
 * minute, which every password and code check shares. Returns the refusal
 * (not thrown, so that the caller commits the hit before throwing it).
 */
export async function hitLoginRate(ctx: CallContext, trx: Transaction): Promise<Fault | undefined> {
  const { app } = ctx;
  const now = app.clock.now();
  // A portal client names its end users' IPs: its own window bounds what it can spread over them.
  if (ctx.portalClientId !== undefined) {
    const portal = await app.repos.rateWindows.hit(`portal:${ctx.portalClientId}`, RATE_WINDOW_MS, now, trx);
    if (portal.hits > app.config.PORTAL_RATE_LIMIT)
      return rateLimited(portal.windowEnd, now, 'Too many password or code checks through this portal client (PORTAL_RATE_LIMIT); try again later');
  }
  const rate = await app.repos.rateWindows.hit(`login:${ctx.ip}`, RATE_WINDOW_MS, now, trx);
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

async function claimScopes(ctx: CallContext, scopes: Scope[], trx: Transaction): Promise<Attempt | Fault> {
  const { app } = ctx;
  const now = app.clock.now();
  const { config } = app;
  const guards = app.repos.loginGuards;

  const limited = await hitLoginRate(ctx, trx);
  if (limited) return limited;

  const lockMs = (n: number) => lockDuration(n, config.LOCKOUT_DURATION, config.LOCKOUT_MAX);
  const claimed: Scope[] = [];
  for (const [scope, key, threshold] of scopes) {
    const claim = await guards.claim(scope, key, threshold, now, trx);
    if (!claim.ok) {
      // Rolls back the hit and the slots claimed so far: the retry counts them again.
      if (!claim.locked) throw new SlotsInFlight();
      // Give back what this attempt already claimed: it was never evaluated.
      for (const [s, k] of claimed) await guards.release(s, k, now, trx);
      return bruteForce(claim.row, now, config.LOCKOUT_DURATION);
    }
    claimed.push([scope, key, threshold]);
  }

  let settled = false;
  // Every outcome touches all claimed counters together: in the caller's transaction, or one of its own.
  const forEachClaimed = <T>(trx: Transaction | undefined, act: (scope: GuardScope, key: string, threshold: number, t: Transaction) => Promise<T>) =>
    app.db.writer.within(trx, async (t) => {
      const results: T[] = [];
      for (const [scope, key, threshold] of claimed) results.push(await act(scope, key, threshold, t));
      return results;
    });
  const release = async (trx?: Transaction) => {
    await forEachClaimed(trx, (scope, key, _threshold, t) => guards.release(scope, key, app.clock.now(), t));
  };
  return {
    async failed(trx) {
      settled = true;
      const locks = await forEachClaimed(trx, async (scope, key, threshold, t) => {
        const until = await guards.failed(scope, key, threshold, app.clock.now(), lockMs, t);
        return scope === 'login' ? until : undefined;
      });
      return locks.find((until) => until !== undefined);
    },
    async passed(trx) {
      settled = true;
      await release(trx);
    },
    async succeeded(trx) {
      settled = true;
      await forEachClaimed(trx, (scope, key, _threshold, t) => guards.succeeded(scope, key, app.clock.now(), t));
    },
    async abandon() {
      if (settled) return;
      settled = true;
      await release();
    },
  };
}

/** Forgets the failures of a login (an admin reset its 2FA key or password). */
export async function clearLoginGuard(app: FastifyInstance, realm: string, loginKey: string): Promise<void> {
  await app.repos.loginGuards.forgive('login', `${realm}:${loginKey}`, app.clock.now());
}

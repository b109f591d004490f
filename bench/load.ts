import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';

/**
 * The load generator, in its own process so it does not share an event loop
 * with the service. Reads a job file, cycles through its requests (so every
 * request can carry its own token or body), prints a JSON summary.
 *
 * A job may bring its own warm-up requests, sent from this same process just
 * before the timed part: a fresh autocannon runs unoptimised code for its
 * first second or so, which on two shared cores would otherwise be charged
 * to the service, most of all in the cases that only last a second or two.
 */
type Request = { path: string; body: string; token?: string };
interface Run {
  duration?: number;
  amount?: number;
  requests: Request[];
}
interface Job extends Run {
  url: string;
  connections: number;
  warmup?: Run;
  /**
   * Single-use tokens that each answer replaces (a refresh token): the
   * requests are a pool, each sent once, and every answer's `field` goes back
   * into it as the next request for the same path. So a case can run for a
   * duration like the others, as many clients keeping their sessions. The
   * pool starts with the warm-up's requests and then the timed part's.
   */
  chain?: { field: string; path: string };
}

const job = JSON.parse(readFileSync(process.argv[2] as string, 'utf8')) as Job;

/** The pool of a chained job: taken from the front, refilled at the back. */
const pool = { items: [] as Request[], head: 0 };
function take(): Request | undefined {
  if (pool.head >= pool.items.length) return undefined;
  const r = pool.items[pool.head++];
  // Drop what was handed out now and then, so the array does not grow for ever.
  if (pool.head > 100_000) {
    pool.items = pool.items.slice(pool.head);
    pool.head = 0;
  }
  return r;
}
function giveBack(body: string): void {
  const value = (JSON.parse(body) as Record<string, unknown>)[job.chain!.field];
  if (typeof value === 'string') pool.items.push({ path: job.chain!.path, body: JSON.stringify({ [job.chain!.field]: value }) });
}

async function run(spec: Run): Promise<{ result: autocannon.Result; seconds: number }> {
  let next = 0;
  if (job.chain) pool.items.push(...spec.requests);
  // autocannon hands its result over on its once-a-second tick, so its `duration` is rounded up to
  // whole seconds: for a fixed number of requests the rate is timed here, first request to last answer.
  const startedAt = performance.now();
  let lastAnswerAt = startedAt;
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: job.url,
        connections: job.connections,
        ...(spec.amount ? { amount: spec.amount } : { duration: spec.duration ?? 10 }),
        requests: [
          {
            method: 'POST',
            setupRequest: (req) => {
              const r = job.chain ? take() : spec.requests[next++ % spec.requests.length];
              if (!r) return req;
              return {
                ...req,
                path: r.path,
                body: r.body,
                headers: { 'content-type': 'application/json', ...(r.token ? { authorization: `Bearer ${r.token}` } : {}) },
              };
            },
            ...(job.chain && {
              onResponse: (status: number, body: string) => {
                if (status === 200) giveBack(body);
              },
            }),
          },
        ],
      },
      (err, res) => (err ? reject(err) : resolve(res)),
    );
    instance.on('response', () => (lastAnswerAt = performance.now()));
  });
  return { result, seconds: spec.amount ? (lastAnswerAt - startedAt) / 1000 : result.duration };
}

/** Warm-up answers that were 503: the service saying "not now" (a retry bound ran out under contention, e.g. on Galera). */
let warmupUnavailable = 0;
if (job.warmup) {
  const { result } = await run(job.warmup);
  warmupUnavailable = result.statusCodeStats?.['503']?.count ?? 0;
  // Anything else means the case is set up wrong (e.g. codes no longer accepted): stop rather than measure it.
  const failed = result.errors + result.timeouts + result.non2xx - warmupUnavailable;
  if (failed > 0) throw new Error(`${failed} of the ${result.requests.total} warm-up requests failed`);
}
const { result, seconds } = await run(job);
process.stdout.write(
  JSON.stringify({
    requests_per_sec: result.requests.total / seconds,
    latency_p50_ms: result.latency.p50,
    latency_p99_ms: result.latency.p99,
    total: result.requests.total,
    ok_2xx: result['2xx'],
    non_2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    timeouts: result.timeouts,
    // Which answers the non-2xx were (503 from a retry bound or a balancer, 401, ...).
    status_codes: Object.fromEntries(Object.entries(result.statusCodeStats ?? {}).map(([code, stat]) => [code, stat.count])),
    warmup_503: warmupUnavailable,
    duration_s: seconds,
  }) + '\n',
);

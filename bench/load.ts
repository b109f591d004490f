import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';

/**
 * The load generator, in its own process so it does not share an event loop
 * with the service. Reads a job file, cycles through its requests (so every
 * request can carry its own token or body), prints a JSON summary.
 */
interface Job {
  url: string;
  connections: number;
  duration?: number;
  amount?: number;
  requests: Array<{ path: string; body: string; token?: string }>;
}

const job = JSON.parse(readFileSync(process.argv[2] as string, 'utf8')) as Job;
let next = 0;
// autocannon hands its result over on its once-a-second tick, so its `duration` is rounded up to
// whole seconds: for a fixed number of requests the rate is timed here, first request to last answer.
const startedAt = performance.now();
let lastAnswerAt = startedAt;
const result = await new Promise<autocannon.Result>((resolve, reject) => {
  const instance = autocannon(
    {
      url: job.url,
      connections: job.connections,
      ...(job.amount ? { amount: job.amount } : { duration: job.duration ?? 10 }),
      requests: [
        {
          method: 'POST',
          setupRequest: (req) => {
            const r = job.requests[next++ % job.requests.length];
            if (!r) return req;
            return {
              ...req,
              path: r.path,
              body: r.body,
              headers: { 'content-type': 'application/json', ...(r.token ? { authorization: `Bearer ${r.token}` } : {}) },
            };
          },
        },
      ],
    },
    (err, res) => (err ? reject(err) : resolve(res)),
  );
  instance.on('response', () => (lastAnswerAt = performance.now()));
});
const seconds = job.amount ? (lastAnswerAt - startedAt) / 1000 : result.duration;
process.stdout.write(
  JSON.stringify({
    requests_per_sec: result.requests.total / seconds,
    latency_p50_ms: result.latency.p50,
    latency_p99_ms: result.latency.p99,
    total: result.requests.total,
    ok_2xx: result['2xx'],
    non_2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    duration_s: seconds,
  }) + '\n',
);

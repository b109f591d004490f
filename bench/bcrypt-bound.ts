import bcrypt from 'bcrypt';

/**
 * The physical limit of logins: how many bcrypt.compare at the service's cost
 * this machine completes per second with the same concurrency as the load
 * generator (libuv's thread pool does the hashing, as in the service).
 */
const cost = Number(process.env.BCRYPT_COST ?? 12);
const concurrency = Number(process.env.CONCURRENCY ?? 50);
const seconds = Number(process.env.SECONDS ?? 10);
const hash = await bcrypt.hash('Bench-pass1', cost);
const deadline = Date.now() + seconds * 1000;
let done = 0;
const started = Date.now();
async function worker(): Promise<void> {
  while (Date.now() < deadline) {
    await bcrypt.compare('Bench-pass1', hash);
    done++;
  }
}
await Promise.all(Array.from({ length: concurrency }, worker));
process.stdout.write(JSON.stringify({ requests_per_sec: done / ((Date.now() - started) / 1000), total: done }) + '\n');

import { setFlagsFromString } from 'node:v8';
import closeWithGrace from 'close-with-grace';
import { buildApp } from './app.js';
import type { Config } from './config/schema.js';

/**
 * Builds the app and listens. SIGTERM/SIGINT close the server gracefully:
 * new connections are refused, in-flight calls finish (up to
 * SHUTDOWN_TIMEOUT), then the database pool closes.
 *
 * SIGHUP is not a shutdown: it re-reads KEYRING_FILE (the keyring plugin
 * owns that), so the documented rotation can be sent to every replica at
 * once. close-with-grace treats SIGHUP as a shutdown by default, hence `skip`.
 */
export async function serve(config: Config): Promise<void> {
  boundHeapGrowth();
  // Until the keyring plugin takes SIGHUP over, Node's default would end the
  // process; the file is about to be read anyway, so there is nothing to do.
  const ignoreHup = () => undefined;
  process.on('SIGHUP', ignoreHup);
  try {
    const app = await buildApp({ config });
    closeWithGrace({ delay: config.SHUTDOWN_TIMEOUT, skip: ['SIGHUP'] }, async ({ signal, err }) => {
      if (err) app.log.error({ err }, 'closing after an uncaught error');
      else app.log.info({ signal }, 'shutting down');
      await app.close();
    });
    await app.listen({ port: config.PORT, host: config.HOST });
    await app.portabilling.listen(config.HOST);
    await app.metrics.listen(config.HOST);
  } finally {
    process.off('SIGHUP', ignoreHup);
  }
}

/**
 * By default V8 lets the old generation grow to about three times what
 * survived the last full collection before collecting again. Calls that wait
 * on a database server outlive the young generation's scavenges, so their
 * garbage lands there: under `npm run bench` on MariaDB the service peaked at
 * 259 MB RSS, and at 151 MB with a growth factor of 1.5 for the same
 * throughput (BENCHMARKS.md). `--heap-growing-percent` given by the operator
 * (NODE_OPTIONS or the command line) wins.
 */
function boundHeapGrowth(): void {
  const given = `${process.execArgv.join(' ')} ${process.env.NODE_OPTIONS ?? ''}`;
  if (!/--heap[-_]growing[-_]percent/.test(given)) setFlagsFromString('--heap-growing-percent=50');
}

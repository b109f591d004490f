import closeWithGrace from 'close-with-grace';
import { buildApp } from './app.js';
import type { Config } from './config/schema.js';

/**
 * Builds the app and listens. SIGTERM/SIGINT close the server gracefully:
 * new connections are refused, in-flight calls finish (up to
 * SHUTDOWN_TIMEOUT), then the database pool closes.
 */
export async function serve(config: Config): Promise<void> {
  const app = await buildApp({ config });
  closeWithGrace({ delay: config.SHUTDOWN_TIMEOUT }, async ({ signal, err }) => {
    if (err) app.log.error({ err }, 'closing after an uncaught error');
    else app.log.info({ signal }, 'shutting down');
    await app.close();
  });
  await app.listen({ port: config.PORT, host: config.HOST });
}

import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { httpServerOptions } from './http-options.js';

/**
 * Listeners beside the main port (`PORTABILLING_PORTS`, `METRICS_PORT`): each is
 * a plain Node server with the same slow-client limits, opened on demand and
 * closed with the application (idle keep-alive connections included, so a
 * close never waits for a client that went quiet).
 */
export function extraListeners(app: FastifyInstance): { open(port: number, host: string, handler: RequestListener): Promise<number> } {
  const servers: Server[] = [];
  app.addHook('onClose', async () => {
    await Promise.all(
      servers.map(
        (server) =>
          new Promise<void>((resolve) => {
            server.close(() => resolve());
            server.closeIdleConnections();
          }),
      ),
    );
  });
  return {
    /** Listens on `port` (0: any free one) and returns the bound port. */
    async open(port, host, handler) {
      const server = createServer(httpServerOptions(app.config), handler);
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      return (server.address() as AddressInfo).port;
    },
  };
}

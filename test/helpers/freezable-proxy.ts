import { once } from 'node:events';
import { createServer, connect, type Socket } from 'node:net';

export interface FreezableProxy {
  /** The port the proxy listens on (127.0.0.1). */
  port: number;
  /** `url` with its host and port replaced by the proxy's. */
  via(url: string): string;
  /**
   * Stops forwarding bytes both ways, keeping every socket open and still
   * accepting connections: what the service sees of a database server
   * stopped with SIGSTOP, or of a network that drops packets.
   */
  freeze(): void;
  /** Forwards again, including what was held back. */
  thaw(): void;
  close(): Promise<void>;
}

/**
 * A TCP proxy between the service and a database server that a test can
 * freeze, so the shared server itself is never stopped. Held-back bytes stay
 * in the kernel's buffers (the sockets are paused), as they would for a
 * stopped process.
 */
export async function startFreezableProxy(target: { host: string; port: number }): Promise<FreezableProxy> {
  let frozen = false;
  const sockets = new Set<Socket>();
  /** Closes that happened while frozen: passed on at the thaw, after the held-back bytes. */
  let heldCloses: Socket[] = [];
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    if (frozen) socket.pause();
  };
  const server = createServer((client) => {
    const upstream = connect(target.port, target.host);
    track(client);
    track(upstream);
    const forward = (from: Socket, to: Socket) => {
      from.on('data', (chunk) => to.write(chunk));
      from.on('end', () => to.end());
      const close = () => {
        if (frozen) heldCloses.push(to);
        else to.destroy();
      };
      from.on('error', close);
      from.on('close', close);
    };
    forward(client, upstream);
    forward(upstream, client);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  return {
    port,
    via(url) {
      const u = new URL(url);
      u.hostname = '127.0.0.1';
      u.port = String(port);
      return u.toString();
    },
    freeze() {
      frozen = true;
      for (const s of sockets) s.pause();
    },
    thaw() {
      frozen = false;
      for (const s of sockets) s.resume();
      const closes = heldCloses;
      heldCloses = [];
      for (const s of closes) s.end();
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

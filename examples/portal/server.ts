import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DIST } from './build.js';

const PUBLIC = join(dirname(fileURLToPath(import.meta.url)), 'public');

export interface PortalOptions {
  /**
   * The billing-auth service the page calls (another origin: its CORS_ORIGINS must list the
   * portal's). A function when the service starts after the portal (it needs the portal's origin).
   */
  apiBaseUrl: string | (() => string);
  realm: string;
  brand?: string;
  host?: string;
  /** 0: any free port. */
  port?: number;
  /** The built bundle (buildPortal's outdir). */
  dist?: string;
}

export interface RunningPortal {
  /** The portal's origin, e.g. http://127.0.0.1:5173 (no trailing slash). */
  origin: string;
  server: Server;
  close(): Promise<void>;
}

const FILES: Record<string, [dir: 'public' | 'dist', name: string, type: string]> = {
  '/': ['public', 'index.html', 'text/html; charset=utf-8'],
  '/styles.css': ['public', 'styles.css', 'text/css; charset=utf-8'],
  '/app.js': ['dist', 'app.js', 'text/javascript; charset=utf-8'],
  '/app.js.map': ['dist', 'app.js.map', 'application/json'],
};

/**
 * The example portal's tiny static server: four files and /config.json. The
 * headers are the part worth copying: the page may only talk to itself and
 * to the service (CSP connect-src), never sends a Referer (the reset page
 * holds a token; README "Forgotten passwords"), and cannot be framed.
 */
export async function startPortal(options: PortalOptions): Promise<RunningPortal> {
  const dirs = { public: PUBLIC, dist: options.dist ?? DIST };
  const apiBaseUrl = () => (typeof options.apiBaseUrl === 'function' ? options.apiBaseUrl() : options.apiBaseUrl).replace(/\/$/, '');
  const config = () => JSON.stringify({ apiBaseUrl: apiBaseUrl(), realm: options.realm, brand: options.brand ?? 'Self-care portal' });
  const headers = () => ({
    'content-security-policy': `default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self' ${new URL(apiBaseUrl()).origin}; base-uri 'none'; form-action 'self'; frame-ancestors 'none'`,
    'referrer-policy': 'no-referrer',
    'x-content-type-options': 'nosniff',
    'cache-control': 'no-store',
  });
  const server = createServer((req, res) => {
    const security = headers();
    const path = new URL(req.url ?? '/', 'http://portal').pathname;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/config.json') {
      res.writeHead(200, { 'content-type': 'application/json', ...security }).end(config());
      return;
    }
    const file = FILES[path];
    if (!file) {
      res.writeHead(404, { 'content-type': 'text/plain', ...security }).end('not found');
      return;
    }
    readFile(join(dirs[file[0]], file[1])).then(
      (body) => res.writeHead(200, { 'content-type': file[2], ...security }).end(req.method === 'HEAD' ? undefined : body),
      () => res.writeHead(404, { 'content-type': 'text/plain', ...security }).end('not built: npm run portal:build'),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve);
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    origin: `http://${host}:${address.port}`,
    server,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

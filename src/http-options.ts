import type { ServerOptions } from 'node:http';
import type { Config } from './config/schema.js';

/** How late past REQUEST_TIMEOUT/HEADERS_TIMEOUT a slow client may be cut off. */
const TIMEOUT_CHECK_INTERVAL_MS = 1000;

/**
 * Node HTTP server settings of every listener (the main port, and the
 * PORTABILLING_PORTS and METRICS_PORT ones). Slow clients (a body one byte
 * every few seconds) are cut off with a 408 instead of holding a connection open for as long as
 * they like. Node looks for overdue requests every connectionsCheckingInterval
 * (30 s by default, which would let a 1 s timeout run 30 s).
 */
export function httpServerOptions(config: Config): ServerOptions {
  return { requestTimeout: config.REQUEST_TIMEOUT, headersTimeout: config.HEADERS_TIMEOUT, connectionsCheckingInterval: TIMEOUT_CHECK_INTERVAL_MS };
}

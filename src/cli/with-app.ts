import type { FastifyInstance } from 'fastify';
import { buildApp } from '../app.js';
import { loadConfig } from '../config/load.js';

/** Who did it: the console, not a session (the actor of a CLI command's audit rows). */
export const CLI_ACTOR = { actor_realm: 'cli', actor_id: null, session_id: null, ip: null };

/**
 * The whole application, built as the server builds it but not listening:
 * the same migrations, repositories, keyring and policy code. Its logs go to
 * stderr so stdout carries only what the command reports.
 */
export async function withApp(work: (app: FastifyInstance) => Promise<void>): Promise<void> {
  const app = await buildApp({ config: loadConfig(), logStream: process.stderr });
  try {
    await work(app);
  } finally {
    await app.close();
  }
}

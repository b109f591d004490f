import fp from 'fastify-plugin';
import type { Config } from '../config/schema.js';
import { systemClock, type Clock } from '../domain/clock.js';

declare module 'fastify' {
  interface FastifyInstance {
    config: Config;
    clock: Clock;
  }
}

export interface ConfigPluginOptions {
  config: Config;
  clock?: Clock;
}

export default fp<ConfigPluginOptions>(
  async (app, opts) => {
    app.decorate('config', opts.config);
    app.decorate('clock', opts.clock ?? systemClock);
  },
  { name: 'config' },
);

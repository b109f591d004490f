import fp from 'fastify-plugin';
import { createPasswordHasher, type PasswordHasher } from '../domain/passwords/hashing.js';

declare module 'fastify' {
  interface FastifyInstance {
    passwords: PasswordHasher;
  }
}

export default fp(
  async (app) => {
    app.decorate('passwords', await createPasswordHasher(app.config.BCRYPT_COST));
  },
  { name: 'passwords', dependencies: ['config'] },
);

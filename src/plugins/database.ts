import fp from 'fastify-plugin';
import { createDatabase, migrateLatest, type Database } from '../repositories/connection.js';
import { createSessionsRepository, type SessionsRepository } from '../repositories/sessions.js';
import { createUsersRepository, type UsersRepository } from '../repositories/users.js';

export interface Repositories {
  users: UsersRepository;
  sessions: SessionsRepository;
}

declare module 'fastify' {
  interface FastifyInstance {
    db: Database;
    repos: Repositories;
  }
}

/** Opens the database named by `DATABASE_URL`, brings its schema up to date and exposes the repositories. */
export default fp(
  async (app) => {
    const db = createDatabase(app.config.DATABASE_URL);
    app.addHook('onClose', async () => {
      await db.knex.destroy();
    });
    const applied = await migrateLatest(db.knex);
    if (applied.length > 0) app.log.info({ migrations: applied }, 'database migrated');
    app.decorate('db', db);
    app.decorate('repos', {
      users: createUsersRepository(db.knex),
      sessions: createSessionsRepository(db.knex),
    });
  },
  { name: 'database', dependencies: ['config'] },
);

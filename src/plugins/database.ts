import fp from 'fastify-plugin';
import { ENTITIES, type EntityName } from '../entities/descriptors.js';
import { createAuditRepository, type AuditRepository } from '../repositories/audit.js';
import { createDatabase, migrateLatest, type Database } from '../repositories/connection.js';
import { createEntityRepository, type EntityRepository } from '../repositories/entities.js';
import { createSessionsRepository, type SessionsRepository } from '../repositories/sessions.js';
import { createTwoFactorKeysRepository, type TwoFactorKeysRepository } from '../repositories/two-factor-keys.js';

export interface Repositories {
  entities: Record<EntityName, EntityRepository>;
  sessions: SessionsRepository;
  audit: AuditRepository;
  twoFactorKeys: TwoFactorKeysRepository;
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
      entities: Object.fromEntries(ENTITIES.map((d) => [d.name, createEntityRepository(db.knex, d)])) as Record<EntityName, EntityRepository>,
      sessions: createSessionsRepository(db.knex),
      audit: createAuditRepository(db.knex),
      twoFactorKeys: createTwoFactorKeysRepository(db.knex),
    });
  },
  { name: 'database', dependencies: ['config'] },
);

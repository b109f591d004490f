import fp from 'fastify-plugin';
import { ENTITIES, type EntityName } from '../entities/descriptors.js';
import { createAuditRepository, type AuditRepository } from '../repositories/audit.js';
import { createDatabase, type Database } from '../repositories/connection.js';
import { createEntityRepository, type EntityRepository } from '../repositories/entities.js';
import { createSessionsRepository, type SessionsRepository } from '../repositories/sessions.js';
import { createTwoFactorKeysRepository, type TwoFactorKeysRepository } from '../repositories/two-factor-keys.js';
import {
  createLoginGuardsRepository,
  createRateWindowsRepository,
  type LoginGuardsRepository,
  type RateWindowsRepository,
} from '../repositories/login-guards.js';
import { createMfaChallengesRepository, type MfaChallengesRepository } from '../repositories/mfa-challenges.js';
import { createRecoveryCodesRepository, type RecoveryCodesRepository } from '../repositories/recovery-codes.js';
import { createNotificationsRepository, type NotificationsRepository } from '../repositories/notifications.js';
import { createPasswordResetsRepository, type PasswordResetsRepository } from '../repositories/password-resets.js';
import { createPortalClientsRepository, type PortalClientsRepository } from '../repositories/portal-clients.js';

export interface Repositories {
  entities: Record<EntityName, EntityRepository>;
  sessions: SessionsRepository;
  audit: AuditRepository;
  twoFactorKeys: TwoFactorKeysRepository;
  recoveryCodes: RecoveryCodesRepository;
  mfaChallenges: MfaChallengesRepository;
  loginGuards: LoginGuardsRepository;
  rateWindows: RateWindowsRepository;
  notifications: NotificationsRepository;
  passwordResets: PasswordResetsRepository;
  portalClients: PortalClientsRepository;
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
    const db = createDatabase(app.config, app.log);
    app.addHook('onClose', async () => {
      await db.reads.close();
      await db.knex.destroy();
    });
    const applied = await db.migrate();
    if (applied.length > 0) app.log.info({ migrations: applied }, 'database migrated');
    app.decorate('db', db);
    const mfaChallenges = createMfaChallengesRepository(db);
    const passwordResets = createPasswordResetsRepository(db.knex);
    app.decorate('repos', {
      entities: Object.fromEntries(ENTITIES.map((d) => [d.name, createEntityRepository(db, d)])) as Record<EntityName, EntityRepository>,
      sessions: createSessionsRepository(db, mfaChallenges, passwordResets),
      audit: createAuditRepository(db),
      twoFactorKeys: createTwoFactorKeysRepository(db),
      recoveryCodes: createRecoveryCodesRepository(db.knex),
      mfaChallenges,
      loginGuards: createLoginGuardsRepository(db),
      rateWindows: createRateWindowsRepository(db),
      notifications: createNotificationsRepository(db.knex),
      passwordResets,
      portalClients: createPortalClientsRepository(db),
    });
  },
  { name: 'database', dependencies: ['config'] },
);

import { randomInt } from 'node:crypto';
import fp from 'fastify-plugin';
import { loginKey } from '../domain/login.js';
import { PERMISSIONS } from '../domain/permissions.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** Where the generated bootstrap password is announced (the console unless a test captures it). */
    announce: (text: string) => void;
  }
}

const ALPHABETS = ['abcdefghijkmnopqrstuvwxyz', 'ABCDEFGHJKLMNPQRSTUVWXYZ', '23456789', '!#%+-=?@^_'];

/** 24 characters from all four classes: about 140 bits, and it passes any sane complexity policy. */
export function generateStrongPassword(length = 24): string {
  const all = ALPHABETS.join('');
  const chars = ALPHABETS.map((a) => a[randomInt(a.length)] as string);
  while (chars.length < length) chars.push(all[randomInt(all.length)] as string);
  for (let i = chars.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [chars[i], chars[j]] = [chars[j] as string, chars[i] as string];
  }
  return chars.join('');
}

/** Whether users appear within a few seconds (another replica's committed bootstrap). */
async function someoneElseBootstrapped(count: () => Promise<number>): Promise<boolean> {
  for (let wait = 50; wait <= 3_200; wait *= 2) {
    if ((await count().catch(() => 0)) > 0) return true;
    await new Promise((resolve) => setTimeout(resolve, wait));
  }
  return false;
}

export interface BootstrapOptions {
  announce?: (text: string) => void;
}

/**
 * First start on an empty database: create the root admin, holding every
 * permission. A generated password is shown once on the console and never
 * logged; only its bcrypt hash is stored.
 */
export default fp<BootstrapOptions>(
  async (app, opts) => {
    app.decorate('announce', opts.announce ?? ((text: string) => console.log(text)));
    const users = app.repos.entities.user;
    if ((await users.count()) > 0) return;

    const login = app.config.BOOTSTRAP_ADMIN_LOGIN;
    const generated = app.config.BOOTSTRAP_ADMIN_PASSWORD === undefined;
    const password = app.config.BOOTSTRAP_ADMIN_PASSWORD ?? generateStrongPassword();
    const now = app.clock.now();
    try {
      await users.insert({
        login,
        login_key: loginKey(login),
        name: 'Root administrator',
        email: null,
        permissions: JSON.stringify(PERMISSIONS),
        is_root: true,
        two_factor_auth: false,
        blocked: false,
        password_hash: await app.passwords.hash(password),
        password_set_at: now,
        // A generated password was shown on a console: it must be replaced at first login.
        password_must_change: generated,
        created_at: now,
        updated_at: now,
      });
    } catch (err) {
      // Another replica bootstrapped the same empty database at the same time: its
      // root wins (a duplicate login on one server; on Galera a certification
      // conflict, 1213, whose winner may reach this node a moment later).
      if (await someoneElseBootstrapped(() => users.count())) return;
      throw err;
    }
    app.log.info({ login }, 'bootstrap admin created');
    if (generated) {
      app.announce(
        [
          '',
          '================================================================',
          ` billing-auth: created the admin "${login}" with this password:`,
          `   ${password}`,
          ' It is shown only this once. Log in and change it.',
          '================================================================',
          '',
        ].join('\n'),
      );
    }
  },
  { name: 'bootstrap', dependencies: ['database', 'passwords'] },
);

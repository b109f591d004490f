import { entityOfRealm } from '../../entities/descriptors.js';
import { policyFor } from '../../entities/passwords.js';
import { defineMethod } from '../../rpc/registry.js';

const DAY_MS = 86_400_000;

export default defineMethod({
  name: 'Session/get_password_policy',
  access: { kind: 'public' },
  async handler(params: { realm: string; login?: string }, { app }) {
    const d = entityOfRealm(params.realm);
    const row = d && params.login ? await app.repos.entities[d.name].findByKey(params.login) : undefined;
    const policy = await policyFor(app, d, row ?? {});
    const expire = app.config.WEB_PASSWORD_EXPIRE;
    return { ...policy, expires_after_days: expire > 0 ? expire / DAY_MS : null };
  },
});

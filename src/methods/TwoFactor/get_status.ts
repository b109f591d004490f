import { requires2fa } from '../../auth/two-factor.js';
import { defineMethod } from '../../rpc/registry.js';
import { loadCaller } from './shared.js';

export default defineMethod({
  name: 'TwoFactor/get_status',
  // Read-only: an admin impersonating the principal may look (but not change anything).
  access: { kind: 'session' },
  async handler(_params: Record<string, never>, ctx) {
    const { app } = ctx;
    const caller = await loadCaller(ctx);
    const key = await app.repos.twoFactorKeys.find(caller.realm, caller.principalId);
    const enrolled = key?.status === 'active';
    return {
      enrolled,
      required: await requires2fa(app, caller.realm, caller.row),
      enrolled_at: enrolled && key.activated_at != null ? new Date(Number(key.activated_at)).toISOString() : null,
      recovery_codes_left: enrolled ? await app.repos.recoveryCodes.countLeft(caller.realm, caller.principalId) : 0,
    };
  },
});

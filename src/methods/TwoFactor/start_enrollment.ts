import { startEnrollment } from '../../auth/two-factor.js';
import { Fault } from '../../rpc/faults.js';
import { defineMethod } from '../../rpc/registry.js';
import { loadCaller } from './shared.js';

export default defineMethod({
  name: 'TwoFactor/start_enrollment',
  access: { kind: 'session', denyImpersonated: true },
  faults: ['Server.TwoFactor.already_enrolled'],
  async handler(_params: Record<string, never>, ctx) {
    const { app } = ctx;
    const caller = await loadCaller(ctx);
    const keys = app.repos.twoFactorKeys;
    if ((await keys.find(caller.realm, caller.principalId))?.status === 'active') throw new Fault('Server.TwoFactor.already_enrolled');
    // Replaces any earlier pending key; an active one is never replaced.
    const enrollment = await startEnrollment(app, caller.realm, caller.principalId, String(caller.row.login));
    // A confirmation that raced this call won: the new pending key was not stored.
    if ((await keys.find(caller.realm, caller.principalId))?.status === 'active') throw new Fault('Server.TwoFactor.already_enrolled');
    return { enrollment };
  },
});

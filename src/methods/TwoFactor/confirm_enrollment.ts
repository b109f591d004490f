import { issueRecoveryCodes } from '../../auth/two-factor.js';
import { Fault } from '../../rpc/faults.js';
import { defineMethod } from '../../rpc/registry.js';
import { auditOwn, loadCaller, OTP_FAULTS, withVerifiedCode } from './shared.js';
import { notify } from '../../notifications/notify.js';
import type { ParamsOf } from '../../rpc/generated/method-types.js';

/** Params as `schemas/TwoFactor/confirm_enrollment.json` defines them. */
type Params = ParamsOf<'TwoFactor/confirm_enrollment'>;

export default defineMethod({
  name: 'TwoFactor/confirm_enrollment',
  access: { kind: 'session', denyImpersonated: true },
  faults: [...OTP_FAULTS, 'Server.TwoFactor.already_enrolled'],
  async handler(params: Params, ctx) {
    const { app } = ctx;
    const caller = await loadCaller(ctx);
    const keys = app.repos.twoFactorKeys;
    const key = await keys.find(caller.realm, caller.principalId);
    if (key?.status === 'active') throw new Fault('Server.TwoFactor.already_enrolled');
    if (!key) throw new Fault('Server.TwoFactor.not_enrolled', 'No key waits for confirmation; call TwoFactor/start_enrollment first');

    const recoveryCodes = await withVerifiedCode(ctx, caller, key, params.otp, async (trx) => {
      // Compare-and-set on the very key whose code was checked.
      if (!(await keys.activate(caller.realm, caller.principalId, key.secret_enc, app.clock.now(), trx))) {
        throw new Fault('Server.TwoFactor.already_enrolled');
      }
      const codes = await issueRecoveryCodes(app, caller.realm, caller.principalId, trx);
      await auditOwn(ctx, caller, 'two_factor.enroll', trx, { recovery_codes_issued: codes.length });
      await notify(app, { kind: 'two_factor_activated', realm: caller.realm, principalId: caller.principalId, row: caller.row }, trx);
      return codes;
    });
    return { enrolled: true as const, recovery_codes: recoveryCodes };
  },
});

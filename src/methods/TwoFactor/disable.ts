import { removeTwoFactor, requires2fa } from '../../auth/two-factor.js';
import { Fault } from '../../rpc/faults.js';
import { defineMethod } from '../../rpc/registry.js';
import { auditOwn, loadCaller, OTP_FAULTS, withVerifiedCode } from './shared.js';
import { notify } from '../../notifications/notify.js';
import type { ParamsOf } from '../../rpc/generated/method-types.js';

/** Params as `schemas/TwoFactor/disable.json` defines them. */
type Params = ParamsOf<'TwoFactor/disable'>;

export default defineMethod({
  name: 'TwoFactor/disable',
  access: { kind: 'session', denyImpersonated: true },
  faults: [...OTP_FAULTS, 'Server.TwoFactor.required_by_policy'],
  async handler(params: Params, ctx) {
    const { app } = ctx;
    const caller = await loadCaller(ctx);
    // Checked before the code, so a code is not spent on a call that cannot succeed.
    if (await requires2fa(app, caller.realm, caller.row)) throw new Fault('Server.TwoFactor.required_by_policy');
    const key = await app.repos.twoFactorKeys.find(caller.realm, caller.principalId);
    if (key?.status !== 'active') throw new Fault('Server.TwoFactor.not_enrolled');

    await withVerifiedCode(ctx, caller, key, params.otp, async (trx) => {
      await removeTwoFactor(app, caller.realm, caller.principalId, trx);
      await auditOwn(ctx, caller, 'two_factor.disable', trx);
      await notify(app, { kind: 'two_factor_disabled', realm: caller.realm, principalId: caller.principalId, row: caller.row }, trx);
    });
    return { success: 1 as const };
  },
});

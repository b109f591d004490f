import { issueRecoveryCodes } from '../../auth/two-factor.js';
import { Fault } from '../../rpc/faults.js';
import { defineMethod } from '../../rpc/registry.js';
import { auditOwn, loadCaller, OTP_FAULTS, withVerifiedCode } from './shared.js';
import { notify } from '../../notifications/notify.js';
import type { ParamsOf } from '../../rpc/generated/method-types.js';

/** Params as `schemas/TwoFactor/regenerate_recovery_codes.json` defines them. */
type Params = ParamsOf<'TwoFactor/regenerate_recovery_codes'>;

export default defineMethod({
  name: 'TwoFactor/regenerate_recovery_codes',
  access: { kind: 'session', denyImpersonated: true },
  faults: OTP_FAULTS,
  async handler(params: Params, ctx) {
    const { app } = ctx;
    const caller = await loadCaller(ctx);
    const key = await app.repos.twoFactorKeys.find(caller.realm, caller.principalId);
    if (key?.status !== 'active') throw new Fault('Server.TwoFactor.not_enrolled');

    const recoveryCodes = await withVerifiedCode(ctx, caller, key, params.otp, async (trx) => {
      // Replaces every earlier code, used or not: the old ones stop working with this commit.
      const codes = await issueRecoveryCodes(app, caller.realm, caller.principalId, trx);
      await auditOwn(ctx, caller, 'two_factor.recovery_codes', trx, { recovery_codes_issued: codes.length });
      await notify(app, { kind: 'recovery_codes_generated', realm: caller.realm, principalId: caller.principalId, row: caller.row }, trx);
      return codes;
    });
    return { recovery_codes: recoveryCodes };
  },
});

import type { MethodDefinition } from '../rpc/registry.js';
import discover from './rpc/discover.js';
import { entityMethods } from './entity/index.js';
import getEventList from './AuditLog/get_event_list.js';
import login from './Session/login.js';
import verifyOtp from './Session/verify_otp.js';
import logout from './Session/logout.js';
import ping from './Session/ping.js';
import changePassword from './Session/change_password.js';
import requestPasswordReset from './Session/request_password_reset.js';
import resetPassword from './Session/reset_password.js';
import getPasswordPolicy from './Session/get_password_policy.js';
import refreshAccessToken from './Session/refresh_access_token.js';
import getSessionList from './Session/get_session_list.js';
import revokeSession from './Session/revoke_session.js';
import impersonate from './Session/impersonate.js';
import getTwoFactorStatus from './TwoFactor/get_status.js';
import startTwoFactorEnrollment from './TwoFactor/start_enrollment.js';
import confirmTwoFactorEnrollment from './TwoFactor/confirm_enrollment.js';
import disableTwoFactor from './TwoFactor/disable.js';
import regenerateRecoveryCodes from './TwoFactor/regenerate_recovery_codes.js';
import addPortalClient from './PortalClient/add_portal_client.js';
import getPortalClientList from './PortalClient/get_portal_client_list.js';
import revokePortalClient from './PortalClient/revoke_portal_client.js';

/** Every method the service answers. */
export function allMethods(): MethodDefinition<never, unknown>[] {
  return [
    discover,
    login,
    verifyOtp,
    logout,
    ping,
    changePassword,
    requestPasswordReset,
    resetPassword,
    getPasswordPolicy,
    refreshAccessToken,
    getSessionList,
    revokeSession,
    impersonate,
    getTwoFactorStatus,
    startTwoFactorEnrollment,
    confirmTwoFactorEnrollment,
    disableTwoFactor,
    regenerateRecoveryCodes,
    getEventList,
    addPortalClient,
    getPortalClientList,
    revokePortalClient,
    ...entityMethods(),
  ] as MethodDefinition<never, unknown>[];
}

import type { MethodDefinition } from '../rpc/registry.js';
import discover from './rpc/discover.js';
import { entityMethods } from './entity/index.js';
import getEventList from './AuditLog/get_event_list.js';
import login from './Session/login.js';
import logout from './Session/logout.js';
import ping from './Session/ping.js';
import changePassword from './Session/change_password.js';
import getPasswordPolicy from './Session/get_password_policy.js';

/** Every method the service answers. */
export function allMethods(): MethodDefinition<never, unknown>[] {
  return [discover, login, logout, ping, changePassword, getPasswordPolicy, getEventList, ...entityMethods()] as MethodDefinition<never, unknown>[];
}

/**
 * Whether two-factor authentication applies to a principal: a pure function of
 * the setting chain (seed 000: switched on per customer class, overridable per
 * customer, reseller, customer individual). Nothing is copied down the chain,
 * so changing a class or a customer changes everything below it at once.
 *
 *   customer class  two_factor_auth: true | false
 *   └ customer      inherit → class (no class: off) | enabled | disabled
 *     ├ individual  inherit → customer's effective  | enabled | disabled
 *     └ account     inherit → customer's effective  | enabled | disabled
 *   admin user      true | false
 *   representative, vendor: enabled | disabled
 */
export type TriState = 'inherit' | 'enabled' | 'disabled';

export function resolveTriState(own: TriState, inherited: boolean): boolean {
  if (own === 'enabled') return true;
  if (own === 'disabled') return false;
  return inherited;
}

export function customerRequires2fa(customer: TriState, customerClass: boolean | undefined): boolean {
  return resolveTriState(customer, customerClass ?? false);
}

/** Customer individuals and accounts: their own setting over their customer's effective one. */
export function childRequires2fa(own: TriState, customer: TriState, customerClass: boolean | undefined): boolean {
  return resolveTriState(own, customerRequires2fa(customer, customerClass));
}

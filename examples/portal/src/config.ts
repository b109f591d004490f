import type { ParamsOf } from '@billing-auth/client';

export type Realm = ParamsOf<'Session/login'>['realm'];
const REALMS: readonly Realm[] = ['account', 'customer', 'customer_individual', 'admin', 'representative', 'vendor'];

/**
 * What the portal's deployer chooses, served as /config.json next to the
 * page (so one bundle serves any service and realm, without a rebuild).
 */
export interface PortalConfig {
  /** The billing-auth service, e.g. https://auth.example (its CORS_ORIGINS must list this portal's origin). */
  apiBaseUrl: string;
  /** The realm every sign-in of this portal uses: `account`, `customer`, ... */
  realm: Realm;
  /** The portal's name, shown in the header. */
  brand: string;
}

export async function loadPortalConfig(): Promise<PortalConfig> {
  const res = await fetch('/config.json', { cache: 'no-store' });
  if (!res.ok) throw new Error(`/config.json answered ${res.status}`);
  const body = (await res.json()) as Partial<PortalConfig>;
  if (typeof body.apiBaseUrl !== 'string' || !REALMS.includes(body.realm as Realm)) throw new Error(`/config.json needs apiBaseUrl and a realm (${REALMS.join(', ')})`);
  return { apiBaseUrl: body.apiBaseUrl, realm: body.realm as Realm, brand: body.brand ?? 'Self-care portal' };
}

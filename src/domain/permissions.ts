/**
 * The fixed set of admin permissions. An admin user holds a subset; `root`
 * (the bootstrap admin) holds all of them and cannot lose any.
 */
export const PERMISSIONS = [
  'users.manage',
  'customers.manage',
  'accounts.manage',
  'partners.manage',
  'passwords.read',
  '2fa.reset',
  'sessions.impersonate',
  'audit.read',
  'portal_clients.manage',
] as const;

export type Permission = (typeof PERMISSIONS)[number];

export const PERMISSION_DESCRIPTIONS: Record<Permission, string> = {
  'users.manage': 'Create, read, change and delete admin users.',
  'customers.manage': 'Manage customer classes, customers and customer individuals.',
  'accounts.manage': 'Manage accounts (including service passwords).',
  'partners.manage': 'Manage representatives and vendors.',
  'passwords.read': 'Read stored passwords back in plain text (each read is audited).',
  '2fa.reset': "Reset a principal's 2FA key.",
  'sessions.impersonate': 'Open a session as a customer, customer individual or account without their credentials.',
  'audit.read': 'Read the audit log.',
  'portal_clients.manage': "Create, list and revoke portal clients (credentials that let a portal server name its end users' IPs).",
};

export function isPermission(value: string): value is Permission {
  return (PERMISSIONS as readonly string[]).includes(value);
}

import type { Permission } from '../domain/permissions.js';

export type Realm = 'admin' | 'customer' | 'customer_individual' | 'account' | 'representative' | 'vendor';

export const REALMS: Realm[] = ['admin', 'customer', 'customer_individual', 'account', 'representative', 'vendor'];

export type EntityName = 'user' | 'customer_class' | 'customer' | 'customer_individual' | 'account' | 'representative' | 'vendor';

/** A reference from one entity to another (its parent in the 2FA chain, or an owner). */
export interface Reference {
  field: string;
  entity: EntityName;
  /** A further condition on the referenced row, with the fault text when it fails. */
  check?: { test: (row: Record<string, unknown>) => boolean; message: string };
}

/**
 * What the generic admin API needs to know about an entity: where it lives,
 * how it is named on the wire, who may manage it and what it refers to. Its
 * fields and their types come from `schemas/entities/<name>.json`.
 */
export interface EntityDescriptor {
  name: EntityName;
  /** JSON-RPC/REST service name. */
  service: string;
  table: string;
  idField: string;
  /** The realm its rows log in to; undefined for customer classes, which do not log in. */
  realm?: Realm;
  /** The unique, case-insensitive key: `login`, or `name` for classes. */
  keyField: 'login' | 'name';
  permission: Permission;
  requiredOnAdd: string[];
  references: Reference[];
  /** How `two_factor_auth` is expressed. */
  twoFactor: 'boolean' | 'tristate' | 'binary';
}

const isReseller = {
  test: (row: Record<string, unknown>) => row.customer_type === 'reseller',
  message: 'i_parent must name a customer of type reseller',
};

/** Representatives and vendors: stand-alone principals with an on/off 2FA setting. */
function partner(name: 'representative' | 'vendor', service: string, table: string): EntityDescriptor {
  return {
    name,
    service,
    table,
    idField: `i_${name}`,
    realm: name,
    keyField: 'login',
    permission: 'partners.manage',
    requiredOnAdd: ['login'],
    references: [],
    twoFactor: 'binary',
  };
}

export const ENTITIES: readonly EntityDescriptor[] = [
  {
    name: 'user',
    service: 'User',
    table: 'users',
    idField: 'i_user',
    realm: 'admin',
    keyField: 'login',
    permission: 'users.manage',
    requiredOnAdd: ['login', 'password'],
    references: [],
    twoFactor: 'boolean',
  },
  {
    name: 'customer_class',
    service: 'CustomerClass',
    table: 'customer_classes',
    idField: 'i_customer_class',
    keyField: 'name',
    permission: 'customers.manage',
    requiredOnAdd: ['name'],
    references: [],
    twoFactor: 'boolean',
  },
  {
    name: 'customer',
    service: 'Customer',
    table: 'customers',
    idField: 'i_customer',
    realm: 'customer',
    keyField: 'login',
    permission: 'customers.manage',
    requiredOnAdd: ['login'],
    references: [
      { field: 'i_customer_class', entity: 'customer_class' },
      { field: 'i_parent', entity: 'customer', check: isReseller },
    ],
    twoFactor: 'tristate',
  },
  {
    name: 'customer_individual',
    service: 'CustomerIndividual',
    table: 'customer_individuals',
    idField: 'i_customer_individual',
    realm: 'customer_individual',
    keyField: 'login',
    permission: 'customers.manage',
    requiredOnAdd: ['i_customer', 'login'],
    references: [{ field: 'i_customer', entity: 'customer' }],
    twoFactor: 'tristate',
  },
  {
    name: 'account',
    service: 'Account',
    table: 'accounts',
    idField: 'i_account',
    realm: 'account',
    keyField: 'login',
    permission: 'accounts.manage',
    requiredOnAdd: ['i_customer', 'login'],
    references: [{ field: 'i_customer', entity: 'customer' }],
    twoFactor: 'tristate',
  },
  partner('representative', 'Representative', 'representatives'),
  partner('vendor', 'Vendor', 'vendors'),
];

export function entity(name: EntityName): EntityDescriptor {
  const found = ENTITIES.find((e) => e.name === name);
  if (!found) throw new Error(`unknown entity ${name}`);
  return found;
}

export function entityOfRealm(realm: string): EntityDescriptor | undefined {
  return ENTITIES.find((e) => e.realm === realm);
}

/** Entities whose rows refer to `name` (a delete of `name` is refused while such rows exist). */
export function referrersOf(name: EntityName): Array<{ entity: EntityDescriptor; field: string }> {
  return ENTITIES.flatMap((e) => e.references.filter((r) => r.entity === name).map((r) => ({ entity: e, field: r.field })));
}

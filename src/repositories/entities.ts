import type { Knex } from 'knex';
import { loginKey } from '../domain/login.js';
import type { EntityDescriptor } from '../entities/descriptors.js';
import { countRows, type Database } from './connection.js';
import { disjointPrefixes, prefixRange } from './key-range.js';
import { pointQuery } from './point-reader.js';
import type { Transaction } from './writer.js';

export type Row = Record<string, unknown>;

export interface ListQuery {
  /** Exact-match filters on reference columns (e.g. `i_customer`). */
  filters: Record<string, unknown>;
  prefix?: string;
  limit: number;
  offset: number;
  /** Keyset paging: the id (without a prefix) or the key (with one) of the last row already read. */
  after?: number | string;
  withTotal: boolean;
}

export interface ListPage {
  rows: Row[];
  /** A further row exists after these. */
  more: boolean;
  total?: number;
}

/** One repository shape for every entity table; the descriptor says which table and keys. */
export function createEntityRepository(db: Database, d: EntityDescriptor) {
  const { knex } = db;
  const table = (trx?: Knex.Transaction) => (trx ?? knex)<Row>(d.table);
  // Reads outside a transaction by id or key go through the point reader (committed rows, as knex would see them).
  const byId = pointQuery<Row>(db, (id) => knex(d.table).where(d.idField, id).first());
  const byKey = pointQuery<Row>(db, (key) => knex(d.table).where('login_key', key).first());
  /** The 2FA chain above a child of a customer in one statement: the customer with its class's setting. */
  const withClassColumns = () =>
    knex(d.table)
      .leftJoin({ cc: 'customer_classes' }, 'cc.i_customer_class', `${d.table}.i_customer_class`)
      .select(`${d.table}.${d.idField}`, `${d.table}.two_factor_auth`, `${d.table}.i_customer_class`, { class_two_factor_auth: 'cc.two_factor_auth' });
  const withClassById = d.name === 'customer' ? pointQuery<Row>(db, (id) => withClassColumns().where(`${d.table}.${d.idField}`, id).first()) : undefined;
  return {
    descriptor: d,

    /**
     * Customers only: their `two_factor_auth` with their class's (`class_two_factor_auth`, null
     * without a class), one statement for both levels of the 2FA chain above an account or individual.
     */
    async findWithClass2fa(ids: number[], trx?: Knex.Transaction): Promise<Row[]> {
      if (!withClassById) throw new Error(`findWithClass2fa: ${d.name} has no class`);
      if (ids.length === 0) return [];
      if (ids.length === 1 && !trx) {
        const row = await withClassById(ids[0]);
        return row ? [row] : [];
      }
      const q = withClassColumns().whereIn(`${d.table}.${d.idField}`, ids);
      return trx ? q.transacting(trx) : q;
    },

    async count(trx?: Knex.Transaction): Promise<number> {
      return countRows(table(trx));
    },

    async findById(id: number, trx?: Transaction): Promise<Row | undefined> {
      return byId(id, trx);
    },

    async findByIds(ids: number[], trx?: Knex.Transaction): Promise<Row[]> {
      if (ids.length === 0) return [];
      if (ids.length === 1 && !trx) {
        const row = await byId(ids[0]);
        return row ? [row] : [];
      }
      return table(trx).whereIn(d.idField, ids);
    },

    /** The row holding this key (`loginKey` of a login, or of a class name): uniqueness checks. */
    async findByKey(key: string, trx?: Knex.Transaction): Promise<Row | undefined> {
      return byKey(key, trx);
    },

    /**
     * The row a login as typed names (any case, any compatibility form). A
     * row that kept its lower-cased key at migration 007, because another
     * held its normalized form, is still found by what its owner types.
     */
    async findByLogin(typed: string, trx?: Knex.Transaction): Promise<Row | undefined> {
      const key = loginKey(typed);
      const legacyKey = typed.toLowerCase();
      if (legacyKey !== key) {
        const legacy = await byKey(legacyKey, trx);
        if (legacy && isLegacyKeyed(legacy, d)) return legacy;
      }
      return byKey(key, trx);
    },

    async insert(row: Row, trx?: Knex.Transaction): Promise<number> {
      const [id] = await table(trx).insert(row);
      return Number(id);
    },

    /**
     * A principal's row decides whether its sessions live (blocked, deleted) and what they may do
     * (an admin's permissions): replicas that cache sessions are told of every change to it.
     */
    async update(id: number, patch: Row, trx?: Knex.Transaction): Promise<number> {
      const n = await table(trx).where(d.idField, id).update(patch);
      if (n > 0 && d.realm) await db.notices.note(trx, { realm: d.realm, principal: id });
      return n;
    },

    /**
     * Password columns, only while the stored hash is still `expected` (a
     * compare-and-set: a password set meanwhile is never overwritten).
     */
    async replacePasswordHash(id: number, expected: string, patch: Row, trx?: Knex.Transaction): Promise<number> {
      return table(trx).where(d.idField, id).andWhere('password_hash', expected).update(patch);
    },

    async delete(id: number, trx?: Knex.Transaction): Promise<number> {
      const n = await table(trx).where(d.idField, id).delete();
      if (n > 0 && d.realm) await db.notices.note(trx, { realm: d.realm, principal: id });
      return n;
    },

    async countWhere(field: string, value: number | string, trx?: Knex.Transaction): Promise<number> {
      return countRows(table(trx).where(field, value));
    },

    /**
     * One page of a list, read from an index (migration 017): by id, or, with a prefix, by key
     * as a range on `login_key` (see key-range.ts). A reference filter is the leading column
     * of the index either way. `limit + 1` rows are read to know whether more follow.
     */
    async list(query: ListQuery, trx?: Knex.Transaction): Promise<ListPage> {
      const take = query.limit + 1;
      if (!query.prefix) {
        const q = table(trx).where(query.filters);
        const total = query.withTotal ? await countRows(q.clone()) : undefined;
        if (query.after !== undefined) q.andWhere(d.idField, '>', query.after);
        const rows = await q.orderBy(d.idField).limit(take).offset(query.offset);
        return { rows: rows.slice(0, query.limit), more: rows.length > query.limit, total };
      }
      // Rows that kept a lower-cased key at migration 007 match what was typed, like findByLogin:
      // one range per distinct prefix, each read in key order, merged.
      const prefixes = disjointPrefixes([loginKey(query.prefix), query.prefix.toLowerCase()]);
      const inRange = (q: Knex.QueryBuilder, prefix: string) => {
        const { lower, upper } = prefixRange(prefix);
        q.where('login_key', '>=', lower);
        if (upper !== undefined) q.andWhere('login_key', '<', upper);
      };
      const total = query.withTotal
        ? await countRows(table(trx).where(query.filters).andWhere((q) => prefixes.forEach((p) => q.orWhere((r) => inRange(r, p)))))
        : undefined;
      const parts = await Promise.all(
        prefixes.map((p) => {
          const q = table(trx).where(query.filters).andWhere((r) => inRange(r, p));
          if (query.after !== undefined) q.andWhere('login_key', '>', query.after);
          return q.orderBy('login_key').limit(take + query.offset);
        }),
      );
      // Byte order of UTF-8 is the database's order of the key (binary collation), not JS's UTF-16 order.
      const merged = parts.flat().sort((a, b) => Buffer.compare(Buffer.from(String(a.login_key)), Buffer.from(String(b.login_key))));
      const rows = merged.slice(query.offset, query.offset + take);
      return { rows: rows.slice(0, query.limit), more: rows.length > query.limit, total };
    },
  };
}

export type EntityRepository = ReturnType<typeof createEntityRepository>;

/** A row whose key is not its login's normalized form: it kept its old key at migration 007 (see README). */
function isLegacyKeyed(row: Row, d: EntityDescriptor): boolean {
  return row.login_key !== loginKey(String(row[d.keyField]));
}

/** Unique-key violations, as each engine reports them. */
export function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: string } | undefined)?.code;
  return code === 'ER_DUP_ENTRY' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

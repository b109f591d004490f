import type { Knex } from 'knex';

export interface UserRow {
  i_user: number;
  login: string;
  login_key: string;
  name: string | null;
  email: string | null;
  permissions: string;
  two_factor_auth: boolean | number;
  blocked: boolean | number;
  password_hash: string;
  password_set_at: number;
  password_must_change: boolean | number;
  created_at: number;
  updated_at: number;
}

export function createUsersRepository(knex: Knex) {
  const table = (trx?: Knex.Transaction) => (trx ?? knex)<UserRow>('users');
  return {
    async count(trx?: Knex.Transaction): Promise<number> {
      const row = (await table(trx).count({ n: '*' }).first()) as { n: number | string } | undefined;
      return Number(row?.n ?? 0);
    },

    async insert(row: Omit<UserRow, 'i_user'>, trx?: Knex.Transaction): Promise<number> {
      const [id] = await table(trx).insert(row);
      return Number(id);
    },

    async findById(id: number, trx?: Knex.Transaction): Promise<UserRow | undefined> {
      return table(trx).where({ i_user: id }).first();
    },

    async findByLogin(login: string, trx?: Knex.Transaction): Promise<UserRow | undefined> {
      return table(trx).where({ login_key: login.toLowerCase() }).first();
    },
  };
}

export type UsersRepository = ReturnType<typeof createUsersRepository>;

import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';

export type TargetName = 'sqlite' | 'mariadb';

export interface TestDatabase {
  target: TargetName;
  url: string;
  dataDir: string;
  drop(): Promise<void>;
}

/**
 * The storages every storage-touching suite runs on: SQLite always, and
 * MariaDB/MySQL when `TEST_DATABASE_URL` names a server (CI always does).
 */
export function databaseTargets(): TargetName[] {
  return process.env.TEST_DATABASE_URL ? ['sqlite', 'mariadb'] : ['sqlite'];
}

/** A fresh, empty database of its own for one suite, so suites run in parallel without seeing each other. */
export async function createTestDatabase(target: TargetName): Promise<TestDatabase> {
  const dataDir = mkdtempSync(join(tmpdir(), 'billing-auth-test-'));
  if (target === 'sqlite') {
    return {
      target,
      url: `sqlite:${join(dataDir, 'test.sqlite')}`,
      dataDir,
      drop: async () => rmSync(dataDir, { recursive: true, force: true }),
    };
  }
  const base = process.env.TEST_DATABASE_URL;
  if (!base) throw new Error('TEST_DATABASE_URL is not set');
  const name = `ba_test_${randomBytes(6).toString('hex')}`;
  const admin = await mysql.createConnection(base);
  await admin.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
  await admin.end();
  const url = new URL(base);
  url.pathname = `/${name}`;
  return {
    target,
    url: url.toString(),
    dataDir,
    drop: async () => {
      const conn = await mysql.createConnection(base);
      await conn.query(`DROP DATABASE IF EXISTS \`${name}\``);
      await conn.end();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

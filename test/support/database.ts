/**
 * PostgreSQL databases for tests: a test that needs one creates a database of its own (a random name,
 * so parallel test files never share tables) and drops it after, whoever is still connected.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** Where test databases are created and dropped, as a superuser (SCRAPEFLOW_TEST_DATABASE_URL overrides). */
export const TEST_DATABASE_ADMIN_URL =
  process.env.SCRAPEFLOW_TEST_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';

/** Runs statements one by one on the admin connection (CREATE/DROP DATABASE take no transaction). */
async function asAdmin(statements: string[]): Promise<void> {
  const admin = new pg.Client({ connectionString: TEST_DATABASE_ADMIN_URL });
  await admin.connect();
  try {
    for (const sql of statements) await admin.query(sql);
  } finally {
    await admin.end();
  }
}

export interface TestDatabase {
  name: string;
  /** Its URL on the test server (what SCRAPEFLOW_DATABASE_URL takes). */
  url: string;
  drop(): Promise<void>;
}

/** Creates an empty database `<prefix>_<8 hex>`. */
export async function createTestDatabase(prefix: string): Promise<TestDatabase> {
  const name = `${prefix}_${randomBytes(4).toString('hex')}`;
  await asAdmin([`CREATE DATABASE "${name}"`]);
  const url = new URL(TEST_DATABASE_ADMIN_URL);
  url.pathname = `/${name}`;
  return { name, url: url.href, drop: () => dropTestDatabases(name) };
}

/** Drops the databases that exist of `names`, whoever is still connected to them. */
export function dropTestDatabases(...names: string[]): Promise<void> {
  return asAdmin(names.map((name) => `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
}

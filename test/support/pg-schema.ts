/**
 * A PostgreSQL schema of its own for one test file or bench run, on the test server (127.0.0.1:5432 by
 * default; SCRAPEFLOW_TEST_DATABASE_URL overrides), so parallel runs never share tables.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const TEST_DATABASE_URL =
  process.env.SCRAPEFLOW_TEST_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestSchema {
  /** The schema's name (`<prefix>_<random>`). */
  schema: string;
  /** A connection URL whose search_path is the schema: what SCRAPEFLOW_DATABASE_URL gets. */
  url: string;
  /** A connection of its own for the test's queries (qualify tables with `schema`). */
  admin: pg.Client;
  /** Drops the schema with everything in it, and closes `admin`. */
  drop(): Promise<void>;
}

export async function createTestSchema(prefix: string): Promise<TestSchema> {
  const schema = `${prefix}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  const url = new URL(TEST_DATABASE_URL);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return {
    schema,
    url: url.href,
    admin,
    async drop() {
      await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await admin.end();
    },
  };
}

/**
 * PgStore against a real PostgreSQL (127.0.0.1:5432 by default; SCRAPEFLOW_TEST_DATABASE_URL overrides).
 * Each store gets a fresh `sf_test_<random>` schema, dropped at the end. Unreachable PostgreSQL fails
 * the file unless SCRAPEFLOW_SKIP_PG=1.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { describeDatabaseUrl, PgStore, type PgStoreOptions } from '../../src/store/pg-store.js';
import { MIGRATIONS } from '../../src/store/migrations/pg.js';
import { openStore } from '../../src/store/index.js';
import { collect, record, runStoreContract } from './contract.js';

const URL = process.env.SCRAPEFLOW_TEST_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
/** For messages: host, port and database, never a password. */
const WHERE = describeDatabaseUrl(URL);

async function reachable(): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: URL, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  } finally {
    await client.end().catch(() => {});
  }
}

const problem = await reachable();
if (problem && process.env.SCRAPEFLOW_SKIP_PG !== '1') {
  throw new Error(
    `PostgreSQL is unreachable at ${WHERE} (${problem}). Start it, point SCRAPEFLOW_TEST_DATABASE_URL at one, ` +
      'or set SCRAPEFLOW_SKIP_PG=1 to skip these tests.',
  );
}

const schemas: string[] = [];
const newSchema = () => {
  const schema = `sf_test_${randomBytes(6).toString('hex')}`;
  schemas.push(schema);
  return schema;
};

/** One statement on its own connection (setup, inspection, cleanup). */
async function sql<R extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString: URL });
  await client.connect();
  try {
    return (await client.query<R>(text, values)).rows;
  } finally {
    await client.end();
  }
}

if (problem) {
  describe(
    'PgStore',
    { skip: `PostgreSQL unreachable at ${WHERE}: ${problem} (SCRAPEFLOW_SKIP_PG=1)` },
    () => {},
  );
} else {
  after(async () => {
    if (schemas.length) await sql(`DROP SCHEMA IF EXISTS ${schemas.join(', ')} CASCADE`);
  });

  // A small page size makes every listing in the contract cross pages.
  runStoreContract('PgStore', () => PgStore.open(URL, { schema: newSchema(), pageSize: 4 }));

  describe('PgStore specifics', () => {
    /** A store on a fresh schema, and that schema's name for direct SQL. */
    const open = async (options: PgStoreOptions = {}) => {
      const schema = newSchema();
      return { schema, store: await PgStore.open(URL, { schema, maxConnections: 4, ...options }) };
    };

    it('keeps one valid row when 20 writers race on the same (batch, index)', async () => {
      const { schema, store } = await open({ maxConnections: 20 });
      try {
        const records = Array.from({ length: 20 }, (_, i) =>
          record('race', 5, i % 2 ? 'failed' : 'succeeded', { attempts: i + 1, detail: `writer ${i}` }),
        );
        await Promise.all([
          ...records.map((r) => store.putResult(r)),
          ...records.map((_, i) => store.putContent('race', 5, `body ${i}`)),
        ]);
        const rows = await store.pool.query<{ status: string; attempts: number }>(
          `SELECT status, attempts FROM ${schema}.scrapeflow_results`,
        );
        assert.equal(rows.rowCount, 1);
        const stored = await store.getResult('race', 5);
        const winner = records.find((r) => r.detail === stored?.detail);
        assert.deepEqual(stored, winner);
        assert.equal(rows.rows[0]?.status, winner?.status);
        assert.equal(rows.rows[0]?.attempts, winner?.attempts);
        assert.match((await store.getContent('pg:race/5')) ?? '', /^body \d+$/);
      } finally {
        await store.close();
      }
    });

    it('applies migrations once when several stores open the same schema at once', async () => {
      const schema = newSchema();
      const stores = await Promise.all([1, 2, 3].map(() => PgStore.open(URL, { schema, maxConnections: 2 })));
      try {
        const again = await PgStore.open(URL, { schema, maxConnections: 1 });
        await again.close();
        const applied = await sql<{ version: number }>(
          `SELECT version FROM ${schema}.scrapeflow_migrations ORDER BY version`,
        );
        assert.deepEqual(
          applied.map((r) => r.version),
          MIGRATIONS.map((m) => m.version),
        );
        await stores[0]?.putResult(record('m', 0, 'succeeded'));
        assert.equal((await stores[2]?.getResult('m', 0))?.status, 'succeeded');
      } finally {
        await Promise.all(stores.map((s) => s.close()));
      }
    });

    it('upgrades a schema from before per-item steps (v2): its inputs read back unchanged', async () => {
      const schema = newSchema();
      const prefix = `"${schema}".`;
      await sql(`CREATE SCHEMA ${schema}`);
      await sql(
        `CREATE TABLE ${prefix}scrapeflow_migrations (
           version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
      );
      for (const migration of MIGRATIONS.filter((m) => m.version <= 2)) {
        await sql(migration.sql(prefix));
        await sql(`INSERT INTO ${prefix}scrapeflow_migrations (version, name) VALUES ($1, $2)`, [
          migration.version,
          migration.name,
        ]);
      }
      await sql(
        `INSERT INTO ${prefix}scrapeflow_inputs (batch_id, idx, url, tags, redriven_from)
         VALUES ('old', 0, 'http://x/0', '{t}', NULL), ('old', 1, 'http://x/1', NULL, '{"batchId":"b","index":4}')`,
      );
      await sql(`INSERT INTO ${prefix}scrapeflow_input_batches (batch_id, item_count) VALUES ('old', 2)`);
      const store = await PgStore.open(URL, { schema, maxConnections: 2 });
      try {
        const applied = await sql<{ version: number }>(
          `SELECT version FROM ${prefix}scrapeflow_migrations ORDER BY version`,
        );
        assert.deepEqual(
          applied.map((r) => r.version),
          MIGRATIONS.map((m) => m.version),
        );
        assert.deepEqual(await store.readInput('old', 0, 10), [
          { index: 0, url: 'http://x/0', tags: ['t'] },
          { index: 1, url: 'http://x/1', redrivenFrom: { batchId: 'b', index: 4 } },
        ]);
        const steps = [{ action: 'wait' as const, ms: 5 }];
        await store.putInput('new', [{ url: 'http://y/0', steps }]);
        assert.deepEqual(await store.readInput('new', 0, 1), [{ index: 0, url: 'http://y/0', steps }]);
      } finally {
        await store.close();
      }
    });

    it('streams a 10,000-row export a page at a time', async () => {
      const { schema, store } = await open();
      try {
        await sql(
          `INSERT INTO ${schema}.scrapeflow_results
             (batch_id, idx, url, status, tags, charged, attempts, finished_at, record)
           SELECT 'big', i, 'http://x/' || i, s, ARRAY['t' || i % 3], 1, 1, now(),
             jsonb_build_object('batchId', 'big', 'index', i, 'url', 'http://x/' || i, 'status', s,
               'charged', 1, 'attempts', 1, 'tags', ARRAY['t' || i % 3], 'finishedAt', now())
           FROM generate_series(9999, 0, -1) i, LATERAL (SELECT CASE WHEN i % 4 = 0 THEN 'failed'
             ELSE 'succeeded' END AS s) st`,
        );
        // Count the rows of every query the store sends while it streams.
        const fetched: number[] = [];
        const query = store.pool.query.bind(store.pool) as (...args: unknown[]) => Promise<pg.QueryResult>;
        store.pool.query = (async (...args: unknown[]) => {
          const result = await query(...args);
          fetched.push(result.rows.length);
          return result;
        }) as typeof store.pool.query;

        let expected = 0;
        for await (const r of store.listResults('big')) {
          assert.equal(r.index, expected);
          expected += 1;
        }
        assert.equal(expected, 10_000);
        assert.ok(Math.max(...fetched) <= 500, `a query fetched ${Math.max(...fetched)} rows`);
        assert.equal(fetched.length, 21);

        fetched.length = 0;
        const failedT1 = await collect(store.listResults('big', { status: 'failed', tag: 't1' }));
        assert.equal(failedT1.length, 833); // i = 4 (mod 12) below 10,000
        assert.ok(
          failedT1.every(
            (r, i) => r.index % 12 === 4 && (i === 0 || r.index > (failedT1[i - 1]?.index ?? 0)),
          ),
        );
        assert.ok(Math.max(...fetched) <= 500);
      } finally {
        await store.close();
      }
    });

    it('leaves no row behind when an input fails mid-stream, past the first INSERT chunks', async () => {
      const { schema, store } = await open();
      try {
        async function* failing() {
          for (let i = 0; i < 1200; i += 1) yield { url: `http://new/${i}` };
          await Promise.resolve();
          throw new Error('source broke');
        }
        await assert.rejects(store.putInput('keep', failing()), /source broke/);
        const rows = await sql<{ n: string }>(
          `SELECT (SELECT count(*) FROM ${schema}.scrapeflow_inputs) + (SELECT count(*) FROM ${schema}.scrapeflow_input_batches) AS n`,
        );
        assert.equal(Number(rows[0]?.n), 0);
        await assert.rejects(store.readInput('keep', -1, 10), RangeError);
        await assert.rejects(store.putResult(record('keep', -1, 'failed')), RangeError);
      } finally {
        await store.close();
      }
    });

    it('openStore opens PostgreSQL when SCRAPEFLOW_DATABASE_URL is set', async () => {
      // The schema-less path: tables land where the connection's search_path says.
      const schema = newSchema();
      await sql(`CREATE SCHEMA ${schema}`);
      const url = new globalThis.URL(URL);
      url.searchParams.set('options', `-c search_path=${schema}`);
      const store = await openStore({
        SCRAPEFLOW_DATA_DIR: '/nonexistent',
        SCRAPEFLOW_DATABASE_URL: url.href,
      });
      try {
        assert.ok(store instanceof PgStore);
        // The search_path's schema is part of the id: a store in another schema is another store.
        assert.equal(store.id, `pg:${WHERE}/${schema}`);
        await store.putResult(record('os', 0, 'succeeded'));
        const rows = await sql(`SELECT 1 FROM ${schema}.scrapeflow_results`);
        assert.equal(rows.length, 1);
      } finally {
        await store.close();
      }
    });

    it('openStore names the variable and the host, never the password, when it cannot connect', async () => {
      const err = await openStore({
        SCRAPEFLOW_DATA_DIR: '.data',
        SCRAPEFLOW_DATABASE_URL: 'postgres://scraper:s3cr3t-pw@127.0.0.1:1/results',
      }).then(
        () => assert.fail('opened'),
        (e: unknown) => e as Error & { code?: string; causeCode?: string },
      );
      assert.equal(err.name, 'StoreUnavailableError');
      assert.equal(err.code, 'store_unavailable');
      assert.equal(err.causeCode, 'ECONNREFUSED');
      assert.match(err.message, /^SCRAPEFLOW_DATABASE_URL: .*127\.0\.0\.1:1\/results/);
      assert.doesNotMatch(JSON.stringify({ ...err, message: err.message, stack: err.stack }), /s3cr3t/);
      await assert.rejects(
        openStore({ SCRAPEFLOW_DATA_DIR: '.data', SCRAPEFLOW_DATABASE_URL: 'postgres://u:s3cr3t@[bad' }),
        (e: Error) => /SCRAPEFLOW_DATABASE_URL/.test(e.message) && !/s3cr3t/.test(`${e.message}${e.stack}`),
      );
    });
  });
}

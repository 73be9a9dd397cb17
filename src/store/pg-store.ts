/**
 * The PostgreSQL store: the same contract as the filesystem store, for several worker hosts sharing one
 * database. Schema and types are in `migrations/pg.ts`; `PgStore.open` applies pending migrations under
 * an advisory lock, so workers starting together do not race.
 *
 * Every write of a URL's data is an upsert keyed by (batch_id, idx): retries and dead workers leave
 * exactly one row per URL, the last write winning. A batch's input is the exception: create-only, in
 * one transaction. Reads that can be large page by index (keyset), never one giant result.
 */
import pg from 'pg';
import { MIGRATIONS } from './migrations/pg.js';
import type { BatchOptions } from '../batch/options.js';
import {
  checkVersion,
  InputExistsError,
  STORED_BATCH_ID_PATTERN,
  type ResultFilter,
  type ResultRecord,
  type ResultStore,
  type UrlItem,
} from './types.js';
import { StoreUnavailableError } from '../errors.js';
import { redactSecrets } from '../logging/secrets.js';
import { registerUrlPassword } from '../logging/url-credentials.js';

export interface PgStoreOptions {
  /**
   * Schema holding the tables, created when missing (lower-case letters, digits and `_`). Without it
   * the tables go where the connection's search_path puts them (normally `public`).
   * @default undefined
   */
  schema?: string;
  /** Rows per query when streaming results (`listResults`). @default 500 */
  pageSize?: number;
  /** Most connections the pool opens. @default 10 */
  maxConnections?: number;
  /** How long to wait for a connection, in milliseconds, before failing. @default 10000 */
  connectTimeoutMs?: number;
  /**
   * Called when an idle pooled connection fails (database restart, network). The pool drops the
   * connection and opens another on demand; the next query reports any lasting problem.
   * @default ignores the error
   */
  onIdleError?: (err: Error) => void;
}

const CONTENT_PREFIX = 'pg:';
const SCHEMA_PATTERN = /^[a-z_][a-z0-9_]{0,62}$/;
const MAX_INDEX = 2 ** 31 - 1;
/** First key of the advisory lock migrations take (the second is a hash of the schema). */
const LOCK_MIGRATE = 0x5346_0001;
/** Input items per INSERT (6 parameters each; PostgreSQL allows 65535 per statement). */
const INPUT_CHUNK = 500;
/** Bodies deleted per statement by `pruneContent`, to keep each transaction short. */
const PRUNE_CHUNK = 1000;

function checkBatchId(batchId: string): string {
  if (!STORED_BATCH_ID_PATTERN.test(batchId)) throw new Error(`invalid batch id ${JSON.stringify(batchId)}`);
  return batchId;
}

function checkIndex(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 0 || value > MAX_INDEX) {
    throw new RangeError(`${name} must be an integer from 0 to ${MAX_INDEX}, got ${value}`);
  }
  return value;
}

/** PostgreSQL text cannot hold NUL characters: they become U+FFFD. */
function pgText(value: string): string {
  return value.includes('\0') ? value.replaceAll('\0', '\uFFFD') : value;
}

/**
 * jsonb refuses `\u0000` and lone surrogates (e.g. a body excerpt cut inside an emoji). In
 * `JSON.stringify` output those are the only `\u0000` / `\udXXX` escapes there are (paired surrogates
 * are written raw), so each becomes `\ufffd`; an escaped backslash before `u` is left alone.
 */
const UNSTORABLE_ESCAPE = /(?<!\\)((?:\\\\)*)\\u(?:0000|d[89a-f][0-9a-f]{2})/gi;
export function toJsonb(value: unknown): string {
  return JSON.stringify(value).replace(UNSTORABLE_ESCAPE, '$1\\ufffd');
}

function decode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** `host:port/database` of a PostgreSQL URL, for messages; refuses anything that is not such a URL. */
export function describeDatabaseUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // The URL parser's error carries the whole input, password included: never pass it on.
    throw new StoreUnavailableError('the database URL is not a valid URL', { target: '(unparsable)' });
  }
  const host = parsed.searchParams.get('host') || decode(parsed.hostname) || 'localhost';
  const target = `${host}:${parsed.port || '5432'}/${decode(parsed.pathname.slice(1))}`;
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new StoreUnavailableError(`the database URL is not a postgres:// URL (${target})`, { target });
  }
  return target;
}

async function migrate(pool: pg.Pool, schema: string | undefined, prefix: string): Promise<void> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    // Session-level lock: released below, or by the server if this connection dies.
    await client.query('SELECT pg_advisory_lock($1::int, hashtext($2::text))', [LOCK_MIGRATE, schema ?? '']);
    try {
      if (schema) await client.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
      await client.query(
        `CREATE TABLE IF NOT EXISTS ${prefix}scrapeflow_migrations (
           version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
      );
      const { rows } = await client.query<{ version: number }>(
        `SELECT version FROM ${prefix}scrapeflow_migrations`,
      );
      const applied = new Set(rows.map((r) => r.version));
      for (const migration of MIGRATIONS) {
        if (applied.has(migration.version)) continue;
        await client.query('BEGIN');
        try {
          await client.query(migration.sql(prefix));
          await client.query(`INSERT INTO ${prefix}scrapeflow_migrations (version, name) VALUES ($1, $2)`, [
            migration.version,
            migration.name,
          ]);
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK');
          throw err;
        }
      }
    } finally {
      await client.query('SELECT pg_advisory_unlock($1::int, hashtext($2::text))', [
        LOCK_MIGRATE,
        schema ?? '',
      ]);
    }
  } catch (err) {
    broken = err as Error;
    throw err;
  } finally {
    // A connection that failed mid-way is destroyed rather than reused (which also drops its lock).
    client.release(broken);
  }
}

interface ResultRow {
  idx: number;
  record: ResultRecord;
}

export class PgStore implements ResultStore {
  private closed = false;
  private readonly inputs: string;
  private readonly inputBatches: string;
  private readonly results: string;
  private readonly content: string;
  private readonly charges: string;
  private readonly options: string;

  private constructor(
    readonly id: string,
    /** The connection pool; exposed for health checks and tests. */
    readonly pool: pg.Pool,
    /** Put before table names: `"schema".` or empty (the API tokens' table sits beside the others). */
    readonly tablePrefix: string,
    private readonly pageSize: number,
  ) {
    this.inputs = `${tablePrefix}scrapeflow_inputs`;
    this.inputBatches = `${tablePrefix}scrapeflow_input_batches`;
    this.results = `${tablePrefix}scrapeflow_results`;
    this.content = `${tablePrefix}scrapeflow_content`;
    this.charges = `${tablePrefix}scrapeflow_charges`;
    this.options = `${tablePrefix}scrapeflow_batch_options`;
  }

  /** Connects, applies pending migrations, and returns the store. Throws `StoreUnavailableError`. */
  static async open(url: string, options: PgStoreOptions = {}): Promise<PgStore> {
    const target = describeDatabaseUrl(url);
    registerUrlPassword(url);
    const { schema } = options;
    if (schema !== undefined && !SCHEMA_PATTERN.test(schema)) {
      throw new RangeError(`schema must match ${SCHEMA_PATTERN}, got ${JSON.stringify(schema)}`);
    }
    const pageSize = options.pageSize ?? 500;
    if (!Number.isInteger(pageSize) || pageSize < 1)
      throw new RangeError('pageSize must be a positive integer');
    const prefix = schema ? `"${schema}".` : '';
    const pool = new pg.Pool({
      connectionString: url,
      max: options.maxConnections ?? 10,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
    });
    pool.on('error', options.onIdleError ?? (() => {}));
    let tablesIn = schema;
    try {
      await migrate(pool, schema, prefix);
      // Without `schema`, the tables are where the connection's search_path put them (a URL may set it
      // with `options=-c search_path=…`): that schema is part of which store this is.
      tablesIn ??=
        (await pool.query<{ s: string | null }>('SELECT current_schema() AS s')).rows[0]?.s ?? undefined;
    } catch (err) {
      await pool.end().catch(() => {});
      const { message, code } = err as { message?: string; code?: unknown };
      throw new StoreUnavailableError(
        redactSecrets(`cannot open the PostgreSQL store at ${target}: ${message ?? String(err)}`),
        { target, causeCode: typeof code === 'string' ? code : undefined },
      );
    }
    // The default schema adds nothing, so a store's id reads `pg:host:port/db` as it always has.
    const id = `pg:${target}${tablesIn && tablesIn !== 'public' ? `/${tablesIn}` : ''}`;
    return new PgStore(id, pool, prefix, pageSize);
  }

  async putInput(
    batchId: string,
    items: AsyncIterable<Omit<UrlItem, 'index'>> | Iterable<Omit<UrlItem, 'index'>>,
  ): Promise<number> {
    checkBatchId(batchId);
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      // The claim comes first: a second writer of the id waits on this row until the first commits
      // (then it is refused) or rolls back (then it goes on). Readers see nothing before COMMIT.
      const claimed = await client.query(
        `INSERT INTO ${this.inputBatches} (batch_id, item_count) VALUES ($1, 0) ON CONFLICT (batch_id) DO NOTHING`,
        [batchId],
      );
      if (claimed.rowCount !== 1) throw new InputExistsError(batchId);
      let count = 0;
      let chunk: Omit<UrlItem, 'index'>[] = [];
      const flush = async () => {
        const values: unknown[] = [batchId];
        const rows = chunk.map((item, i) => {
          values.push(
            count - chunk.length + i,
            pgText(item.url),
            item.tags?.length ? item.tags.map(pgText) : null,
            item.redrivenFrom ? JSON.stringify(item.redrivenFrom) : null,
            item.steps ? toJsonb(item.steps) : null,
            item.duplicateOf ?? null,
          );
          const n = values.length;
          return `($1, $${n - 5}, $${n - 4}, $${n - 3}, $${n - 2}, $${n - 1}, $${n})`;
        });
        await client.query(
          `INSERT INTO ${this.inputs} (batch_id, idx, url, tags, redriven_from, steps, duplicate_of) VALUES ${rows.join(', ')}`,
          values,
        );
        chunk = [];
      };
      for await (const item of items) {
        chunk.push(item);
        count += 1;
        if (chunk.length === INPUT_CHUNK) await flush();
      }
      if (count === 0) {
        await client.query('ROLLBACK');
        return 0;
      }
      if (chunk.length) await flush();
      await client.query(`UPDATE ${this.inputBatches} SET item_count = $2 WHERE batch_id = $1`, [
        batchId,
        count,
      ]);
      await client.query('COMMIT');
      return count;
    } catch (err) {
      await client.query('ROLLBACK').catch((rollbackErr: Error) => (broken = rollbackErr));
      throw err;
    } finally {
      client.release(broken);
    }
  }

  async deleteInput(batchId: string): Promise<void> {
    checkBatchId(batchId);
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      await client.query(`DELETE FROM ${this.inputBatches} WHERE batch_id = $1`, [batchId]);
      await client.query(`DELETE FROM ${this.inputs} WHERE batch_id = $1`, [batchId]);
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch((rollbackErr: Error) => (broken = rollbackErr));
      throw err;
    } finally {
      client.release(broken);
    }
  }

  async readInput(batchId: string, offset: number, limit: number): Promise<UrlItem[]> {
    checkBatchId(batchId);
    checkIndex('offset', offset);
    if (limit <= 0) return [];
    const { rows } = await this.pool.query<{
      idx: number;
      url: string;
      tags: string[] | null;
      redriven_from: UrlItem['redrivenFrom'] | null;
      steps: UrlItem['steps'] | null;
      duplicate_of: number | null;
    }>(
      `SELECT idx, url, tags, redriven_from, steps, duplicate_of FROM ${this.inputs}
       WHERE batch_id = $1 AND idx >= $2 ORDER BY idx LIMIT $3`,
      [batchId, offset, limit],
    );
    return rows.map((r) => ({
      index: r.idx,
      url: r.url,
      ...(r.tags?.length ? { tags: r.tags } : {}),
      ...(r.redriven_from ? { redrivenFrom: r.redriven_from } : {}),
      ...(r.steps ? { steps: r.steps } : {}),
      ...(r.duplicate_of !== null ? { duplicateOf: r.duplicate_of } : {}),
    }));
  }

  async inputCount(batchId: string): Promise<number | undefined> {
    checkBatchId(batchId);
    const { rows } = await this.pool.query<{ item_count: number }>(
      `SELECT item_count FROM ${this.inputBatches} WHERE batch_id = $1`,
      [batchId],
    );
    return rows[0]?.item_count;
  }

  async putContent(batchId: string, index: number, content: string): Promise<string> {
    checkBatchId(batchId);
    checkIndex('index', index);
    await this.pool.query(
      `INSERT INTO ${this.content} (batch_id, idx, body) VALUES ($1, $2, $3)
       ON CONFLICT (batch_id, idx) DO UPDATE SET body = EXCLUDED.body, stored_at = now()`,
      [batchId, index, Buffer.from(content, 'utf8')],
    );
    return `${CONTENT_PREFIX}${batchId}/${index}`;
  }

  async getContent(ref: string): Promise<string | undefined> {
    if (!ref.startsWith(CONTENT_PREFIX)) throw new Error(`not a PostgreSQL content reference: ${ref}`);
    const path = ref.slice(CONTENT_PREFIX.length);
    const slash = path.lastIndexOf('/');
    const index = path.slice(slash + 1);
    if (slash < 0 || !/^\d+$/.test(index)) throw new Error(`bad content reference: ${ref}`);
    const { rows } = await this.pool.query<{ body: Buffer }>(
      `SELECT body FROM ${this.content} WHERE batch_id = $1 AND idx = $2`,
      [checkBatchId(path.slice(0, slash)), checkIndex('index', Number(index))],
    );
    return rows[0]?.body.toString('utf8');
  }

  async noteCharge(batchId: string, index: number, tryId: string, credits: number): Promise<void> {
    await this.pool.query(
      `INSERT INTO ${this.charges} (batch_id, idx, try_id, credits) VALUES ($1, $2, $3, $4)
       ON CONFLICT (batch_id, idx, try_id) DO NOTHING`,
      [checkBatchId(batchId), checkIndex('index', index), tryId, credits],
    );
  }

  async notedCharges(batchId: string, index: number): Promise<number> {
    const { rows } = await this.pool.query<{ total: string | null }>(
      `SELECT sum(credits) AS total FROM ${this.charges} WHERE batch_id = $1 AND idx = $2`,
      [checkBatchId(batchId), checkIndex('index', index)],
    );
    return Number(rows[0]?.total ?? 0);
  }

  async putOptions(batchId: string, version: string, options: BatchOptions): Promise<void> {
    await this.pool.query(
      `INSERT INTO ${this.options} (batch_id, version, options) VALUES ($1, $2, $3::jsonb)
       ON CONFLICT (batch_id, version) DO NOTHING`,
      [checkBatchId(batchId), checkVersion(version), toJsonb(options)],
    );
  }

  async getOptions(batchId: string, version: string): Promise<BatchOptions | undefined> {
    const { rows } = await this.pool.query<{ options: BatchOptions }>(
      `SELECT options FROM ${this.options} WHERE batch_id = $1 AND version = $2`,
      [checkBatchId(batchId), checkVersion(version)],
    );
    return rows[0]?.options;
  }

  async putResult(record: ResultRecord): Promise<void> {
    checkBatchId(record.batchId);
    checkIndex('index', record.index);
    await this.pool.query(
      `INSERT INTO ${this.results}
         (batch_id, idx, url, status, reason, tags, charged, attempts, finished_at, record)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb)
       ON CONFLICT (batch_id, idx) DO UPDATE SET
         url = EXCLUDED.url, status = EXCLUDED.status, reason = EXCLUDED.reason, tags = EXCLUDED.tags,
         charged = EXCLUDED.charged, attempts = EXCLUDED.attempts, finished_at = EXCLUDED.finished_at,
         record = EXCLUDED.record`,
      [
        record.batchId,
        record.index,
        pgText(record.url),
        record.status,
        record.reason === undefined ? null : pgText(record.reason),
        (record.tags ?? []).map(pgText),
        record.charged,
        record.attempts,
        record.finishedAt,
        toJsonb(record),
      ],
    );
  }

  async getResult(batchId: string, index: number): Promise<ResultRecord | undefined> {
    checkBatchId(batchId);
    checkIndex('index', index);
    const { rows } = await this.pool.query<ResultRow>(
      `SELECT idx, record FROM ${this.results} WHERE batch_id = $1 AND idx = $2`,
      [batchId, index],
    );
    return rows[0]?.record;
  }

  async *listResults(batchId: string, filter?: ResultFilter): AsyncIterable<ResultRecord> {
    checkBatchId(batchId);
    const statuses =
      filter?.status === undefined ? null : Array.isArray(filter.status) ? filter.status : [filter.status];
    const tag = filter?.tag ? pgText(filter.tag) : null;
    // Keyset pagination: each page is one short query, and no connection is held between pages.
    let after = -1;
    for (;;) {
      const { rows } = await this.pool.query<ResultRow>(
        `SELECT idx, record FROM ${this.results}
         WHERE batch_id = $1 AND idx > $2
           AND ($3::text[] IS NULL OR status = ANY($3::text[]))
           AND ($4::text IS NULL OR tags @> ARRAY[$4::text])
         ORDER BY idx LIMIT $5`,
        [batchId, after, statuses, tag, this.pageSize],
      );
      for (const row of rows) yield row.record;
      const last = rows.at(-1);
      if (rows.length < this.pageSize || !last) return;
      after = last.idx;
    }
  }

  async pruneContent(olderThan: Date): Promise<number> {
    if (Number.isNaN(olderThan.getTime())) throw new RangeError('olderThan is not a valid date');
    let removed = 0;
    for (;;) {
      // The outer `stored_at <` re-checks rows rewritten meanwhile, so a fresh body is never deleted.
      const { rowCount } = await this.pool.query(
        `DELETE FROM ${this.content} WHERE stored_at < $1 AND (batch_id, idx) IN (
           SELECT batch_id, idx FROM ${this.content} WHERE stored_at < $1 LIMIT ${PRUNE_CHUNK})`,
        [olderThan],
      );
      removed += rowCount ?? 0;
      if ((rowCount ?? 0) < PRUNE_CHUNK) return removed;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }
}

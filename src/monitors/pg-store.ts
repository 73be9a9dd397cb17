/**
 * Monitors in PostgreSQL (migration 11). Observations are keyed (monitor, batch_id, url), which serves
 * one run's changes; (monitor, url, observed_at) serves one URL's history; (monitor, observed_at)
 * serves `--since` and retention. The whole observation is `row` jsonb; the columns are for SQL.
 */
import type pg from 'pg';
import { toJsonb } from '../store/pg-store.js';
import type { MonitorStore, ObservationFilter } from './store-types.js';
import {
  noChangeCounts,
  type ChangeStatus,
  type MonitorRun,
  type MonitorSpec,
  type Observation,
} from './types.js';

/**
 * Rows per query when streaming observations (keyset pages): a page of a few MB, few round trips for a
 * 100,000-URL run.
 */
const PAGE = 5000;

interface RunRow {
  monitor: string;
  batch_id: string;
  scheduled_at: Date;
  state: MonitorRun['state'];
  counts: MonitorRun['counts'] | null;
  credits: string | null;
  tracked_at: Date | null;
}

const runOf = (row: RunRow): MonitorRun => ({
  monitor: row.monitor,
  batchId: row.batch_id,
  scheduledAt: row.scheduled_at.toISOString(),
  state: row.state,
  ...(row.counts ? { counts: row.counts } : {}),
  ...(row.credits !== null ? { credits: Number(row.credits) } : {}),
  ...(row.tracked_at ? { trackedAt: row.tracked_at.toISOString() } : {}),
});

export class PgMonitorStore implements MonitorStore {
  private readonly monitors: string;
  private readonly runs: string;
  private readonly obs: string;

  constructor(
    private readonly pool: pg.Pool,
    prefix = '',
  ) {
    this.monitors = `${prefix}scrapeflow_monitors`;
    this.runs = `${prefix}scrapeflow_monitor_runs`;
    this.obs = `${prefix}scrapeflow_monitor_observations`;
  }

  async create(spec: MonitorSpec): Promise<boolean> {
    const { rowCount } = await this.pool.query(
      `INSERT INTO ${this.monitors} (name, account, spec) VALUES ($1, $2, $3::jsonb) ON CONFLICT DO NOTHING`,
      [spec.name, spec.account, toJsonb(spec)],
    );
    return rowCount === 1;
  }

  async put(spec: MonitorSpec): Promise<void> {
    await this.pool.query(
      `INSERT INTO ${this.monitors} (name, account, spec) VALUES ($1, $2, $3::jsonb)
       ON CONFLICT (name) DO UPDATE SET account = EXCLUDED.account, spec = EXCLUDED.spec`,
      [spec.name, spec.account, toJsonb(spec)],
    );
  }

  async get(name: string): Promise<MonitorSpec | undefined> {
    const { rows } = await this.pool.query<{ spec: MonitorSpec }>(
      `SELECT spec FROM ${this.monitors} WHERE name = $1`,
      [name],
    );
    return rows[0]?.spec;
  }

  async list(): Promise<MonitorSpec[]> {
    const { rows } = await this.pool.query<{ spec: MonitorSpec }>(
      `SELECT spec FROM ${this.monitors} ORDER BY name`,
    );
    return rows.map((r) => r.spec);
  }

  async delete(name: string, purge: boolean): Promise<boolean> {
    const { rowCount } = await this.pool.query(`DELETE FROM ${this.monitors} WHERE name = $1`, [name]);
    if (purge) {
      await this.pool.query(`DELETE FROM ${this.obs} WHERE monitor = $1`, [name]);
      await this.pool.query(`DELETE FROM ${this.runs} WHERE monitor = $1`, [name]);
    }
    return rowCount === 1;
  }

  async putRun(run: MonitorRun): Promise<void> {
    await this.pool.query(
      `INSERT INTO ${this.runs} (monitor, batch_id, scheduled_at, state, counts, credits, tracked_at)
       VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7)
       ON CONFLICT (monitor, batch_id) DO UPDATE SET state = EXCLUDED.state, counts = EXCLUDED.counts,
         credits = EXCLUDED.credits, tracked_at = EXCLUDED.tracked_at`,
      [
        run.monitor,
        run.batchId,
        run.scheduledAt,
        run.state,
        run.counts ? JSON.stringify(run.counts) : null,
        run.credits ?? null,
        run.trackedAt ?? null,
      ],
    );
  }

  async getRun(monitor: string, batchId: string): Promise<MonitorRun | undefined> {
    const { rows } = await this.pool.query<RunRow>(
      `SELECT * FROM ${this.runs} WHERE monitor = $1 AND batch_id = $2`,
      [monitor, batchId],
    );
    return rows[0] && runOf(rows[0]);
  }

  async listRuns(monitor: string, limit = 1000): Promise<MonitorRun[]> {
    const { rows } = await this.pool.query<RunRow>(
      `SELECT * FROM ${this.runs} WHERE monitor = $1 ORDER BY scheduled_at DESC LIMIT $2`,
      [monitor, limit],
    );
    return rows.map(runOf);
  }

  async previousRun(monitor: string, before: string): Promise<MonitorRun | undefined> {
    const { rows } = await this.pool.query<RunRow>(
      `SELECT * FROM ${this.runs} WHERE monitor = $1 AND scheduled_at < $2 AND state = 'tracked'
       ORDER BY scheduled_at DESC LIMIT 1`,
      [monitor, before],
    );
    return rows[0] && runOf(rows[0]);
  }

  async putObservations(rows: readonly Observation[]): Promise<void> {
    if (rows.length === 0) return;
    // One statement per chunk: unnest of parallel arrays keeps the parameter count at six.
    await this.pool.query(
      `INSERT INTO ${this.obs} (monitor, batch_id, url, observed_at, status, charged, row)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::text[], $6::numeric[], $7::jsonb[])
       ON CONFLICT (monitor, batch_id, url) DO UPDATE SET observed_at = EXCLUDED.observed_at,
         status = EXCLUDED.status, charged = EXCLUDED.charged, row = EXCLUDED.row`,
      [
        rows.map((r) => r.monitor),
        rows.map((r) => r.batchId),
        rows.map((r) => r.url),
        rows.map((r) => r.observedAt),
        rows.map((r) => r.status),
        rows.map((r) => r.charged),
        rows.map((r) => toJsonb(r)),
      ],
    );
  }

  async getObservations(monitor: string, batchId: string, urls: readonly string[]) {
    const out = new Map<string, Observation>();
    if (urls.length === 0) return out;
    // One primary-key probe per URL, whatever the statistics say: a scalar subquery is never flattened
    // into a join. `url = ANY($3)` was planned as a filter over the whole run's rows while the table's
    // statistics predate the run (always, for the run just written), so each chunk read every row.
    const { rows } = await this.pool.query<{ row: Observation | null }>(
      `SELECT (SELECT row FROM ${this.obs} WHERE monitor = $1 AND batch_id = $2 AND url = u.url) AS row
       FROM unnest($3::text[]) AS u(url)`,
      [monitor, batchId, urls],
    );
    for (const { row } of rows) if (row) out.set(row.url, row);
    return out;
  }

  /** Keyset pages of `where` (which uses $1, $2 and optionally $3 for statuses), ordered by `order`. */
  private async *pages(
    where: string,
    params: unknown[],
    key: (row: Observation) => unknown[],
    order: string[],
  ): AsyncIterable<Observation> {
    let after: unknown[] | undefined;
    const n = params.length;
    for (;;) {
      const cursor = after
        ? `AND (${order.join(', ')}) > (${order.map((_, i) => `$${n + 1 + i}`).join(', ')})`
        : '';
      const { rows } = await this.pool.query<{ row: Observation }>(
        `SELECT row FROM ${this.obs} o WHERE ${where} ${cursor} ORDER BY ${order.join(', ')} LIMIT ${PAGE}`,
        [...params, ...(after ?? [])],
      );
      for (const { row } of rows) yield row;
      const last = rows.at(-1);
      if (rows.length < PAGE || !last) return;
      after = key(last.row);
    }
  }

  runObservations(monitor: string, batchId: string, filter?: ObservationFilter) {
    return this.pages(
      `monitor = $1 AND batch_id = $2 AND ($3::text[] IS NULL OR status = ANY($3::text[]))`,
      [monitor, batchId, filter?.statuses ?? null],
      (r) => [r.url],
      ['url'],
    );
  }

  missingFrom(monitor: string, prevBatchId: string, batchId: string) {
    // Not `NOT EXISTS`: that becomes an anti-join, and with the current run's rows newer than the
    // statistics (estimated at one row) PostgreSQL chose a nested loop scanning the whole current run
    // for each previous row, quadratic (28 s at 10,000 URLs). A scalar subquery stays a subplan: one
    // primary-key probe per previous row, whatever the statistics.
    return this.pages(
      `monitor = $1 AND batch_id = $2 AND status <> 'removed' AND (
         SELECT 1 FROM ${this.obs} c WHERE c.monitor = $1 AND c.batch_id = $3 AND c.url = o.url) IS NULL`,
      [monitor, prevBatchId, batchId],
      (r) => [r.url],
      ['url'],
    );
  }

  history(monitor: string, url: string) {
    return this.pages(`monitor = $1 AND url = $2`, [monitor, url], (r) => [r.observedAt, r.batchId], [
      'observed_at',
      'batch_id',
    ]);
  }

  since(monitor: string, since: string, filter?: ObservationFilter) {
    return this.pages(
      `monitor = $1 AND observed_at >= $2 AND ($3::text[] IS NULL OR status = ANY($3::text[]))`,
      [monitor, since, filter?.statuses ?? null],
      (r) => [r.observedAt, r.url],
      ['observed_at', 'url'],
    );
  }

  async runCounts(monitor: string, batchId: string) {
    const { rows } = await this.pool.query<{ status: ChangeStatus; n: string; credits: string }>(
      `SELECT status, count(*) AS n, coalesce(sum(charged), 0) AS credits FROM ${this.obs}
       WHERE monitor = $1 AND batch_id = $2 GROUP BY status`,
      [monitor, batchId],
    );
    const counts = noChangeCounts();
    let credits = 0;
    for (const row of rows) {
      counts[row.status] = Number(row.n);
      credits += Number(row.credits);
    }
    return { counts, credits };
  }

  async costsByUrl(monitor: string): Promise<Map<string, number>> {
    const { rows } = await this.pool.query<{ url: string; credits: string }>(
      `SELECT url, sum(charged) AS credits FROM ${this.obs} WHERE monitor = $1 GROUP BY url ORDER BY url`,
      [monitor],
    );
    return new Map(rows.map((r) => [r.url, Number(r.credits)]));
  }

  async prune(monitor: string, olderThan: Date): Promise<number> {
    const { rowCount } = await this.pool.query(
      `DELETE FROM ${this.obs} WHERE monitor = $1 AND observed_at < $2`,
      [monitor, olderThan],
    );
    await this.pool.query(`DELETE FROM ${this.runs} WHERE monitor = $1 AND scheduled_at < $2`, [
      monitor,
      olderThan,
    ]);
    return rowCount ?? 0;
  }
}

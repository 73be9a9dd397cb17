/** What a monitor store is (src/monitors/store.ts opens one; pg-store.ts and fs-store.ts are the two). */
import type { ChangeStatus, MonitorRun, MonitorSpec, Observation } from './types.js';

export interface ObservationFilter {
  statuses?: readonly ChangeStatus[];
}

export interface MonitorStore {
  /** Stores a new monitor; false when the name is taken (nothing is written then). */
  create(spec: MonitorSpec): Promise<boolean>;
  /** Replaces a monitor's spec (it exists). */
  put(spec: MonitorSpec): Promise<void>;
  get(name: string): Promise<MonitorSpec | undefined>;
  /** Every monitor, by name. */
  list(): Promise<MonitorSpec[]>;
  /** Removes the spec; with `purge` its runs and observations too. False when there was none. */
  delete(name: string, purge: boolean): Promise<boolean>;

  /** Writes a run's row. Idempotent by (monitor, batchId): the last write wins. */
  putRun(run: MonitorRun): Promise<void>;
  getRun(monitor: string, batchId: string): Promise<MonitorRun | undefined>;
  /** The monitor's runs, newest scheduled first. */
  listRuns(monitor: string, limit?: number): Promise<MonitorRun[]>;
  /** The latest tracked run scheduled before `before` (ISO): what a run compares against. */
  previousRun(monitor: string, before: string): Promise<MonitorRun | undefined>;

  /** Writes observations. Idempotent by (monitor, batchId, url): the last write wins. */
  putObservations(rows: readonly Observation[]): Promise<void>;
  /** A run's observations of these URLs, by URL. */
  getObservations(
    monitor: string,
    batchId: string,
    urls: readonly string[],
  ): Promise<Map<string, Observation>>;
  /** A run's observations in URL order, in bounded memory (PostgreSQL) or one run at a time (files). */
  runObservations(monitor: string, batchId: string, filter?: ObservationFilter): AsyncIterable<Observation>;
  /** Observations of `prevBatchId` that are not `removed` and whose URL `batchId` has none of. */
  missingFrom(monitor: string, prevBatchId: string, batchId: string): AsyncIterable<Observation>;
  /** One URL's observations, oldest first. */
  history(monitor: string, url: string): AsyncIterable<Observation>;
  /** Observations of runs scheduled at or after `since` (ISO), by run then URL. */
  since(monitor: string, since: string, filter?: ObservationFilter): AsyncIterable<Observation>;
  /** A run's observations counted by status, and their credits. */
  runCounts(
    monitor: string,
    batchId: string,
  ): Promise<{ counts: Record<ChangeStatus, number>; credits: number }>;
  /** Credits per URL over the monitor's kept observations. */
  costsByUrl(monitor: string): Promise<Map<string, number>>;
  /** Retention: deletes the monitor's observations (and run rows) scheduled before `olderThan`. */
  prune(monitor: string, olderThan: Date): Promise<number>;
}

/**
 * Where monitors, their runs and their observations live: beside the result store, in its PostgreSQL
 * database (tables of migration 11) or under `<data dir>/monitors/` (files). One interface, one contract
 * test run against both (test/monitors/store.test.ts).
 */
import { join } from 'node:path';
import type pg from 'pg';
import type { MonitorStore } from './store-types.js';
import { PgMonitorStore } from './pg-store.js';
import { FsMonitorStore } from './fs-store.js';

export type { MonitorStore, ObservationFilter } from './store-types.js';

/**
 * The monitor store beside a result store: its PostgreSQL database, or `monitors/` in its data
 * directory; none for another store (a test double).
 */
export function monitorStoreOf(store: object): MonitorStore | undefined {
  if ('pool' in store && 'tablePrefix' in store)
    return new PgMonitorStore(store.pool as pg.Pool, store.tablePrefix as string);
  if ('dataDir' in store) return new FsMonitorStore(join(store.dataDir as string, 'monitors'));
  return undefined;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/** Retention of every monitor: observations older than its `retainDays`. How many went, and of how many monitors. */
export async function pruneMonitors(monitors: MonitorStore, now = new Date()) {
  let removed = 0;
  const specs = await monitors.list();
  for (const spec of specs)
    removed += await monitors.prune(spec.name, new Date(now.getTime() - spec.retainDays * DAY_MS));
  return { removed, monitors: specs.length };
}

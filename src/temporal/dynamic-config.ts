/**
 * Dynamic config every Temporal server scrapeflow starts gets: the dev server (devkit/temporal/dev-server.ts,
 * where the caller's `dynamicConfig` overrides it) and `cluster up` (CLUSTER_DYNAMIC_CONFIG). One
 * partition per task queue: partitions spread a queue over matching hosts, and a single-node server has
 * one; with the default four, a task lands in a partition no poller is waiting on and is forwarded.
 * Measured by the ceiling benchmark on 2 cores: 48 → 60 URLs/s through the whole pipeline.
 */
export const BASE_DYNAMIC_CONFIG: Readonly<Record<string, number | boolean>> = {
  'matching.numTaskqueueReadPartitions': 1,
  'matching.numTaskqueueWritePartitions': 1,
  // Batch priority and fairness between accounts (src/workflows/priority.ts) are the new matcher's: the
  // classic one accepts the fields and dispatches first in, first out. Server 1.29.1 (dev server 1.5.1).
  'matching.useNewMatcher': true,
  'matching.enableFairness': true,
};

/**
 * Gauges of what a worker process knows beyond its own calls, for alert rules and the dashboard
 * (deploy/prometheus, deploy/grafana):
 * - `scrapeflow_batches_paused{reason}` (processes with the `workflows` role): the batches paused now,
 *   counted in Temporal visibility at each scrape. Pause state lives in the batch workflows, not in any
 *   one process's memory, so each workflows worker reports the same fleet-wide count (rules take `max`).
 * - `scrapeflow_plan_concurrency{account}` (processes with the `scrape` role): each account's plan, the
 *   ceiling of `scrapeflow_omniscrape_in_flight`.
 */
import { Gauge, type Registry } from 'prom-client';
import type { Client } from '@temporalio/client';
import { batchListQuery } from '../client/list.js';
import type { Accounts } from '../config/accounts.js';
import type { Logger } from '../logging/logger.js';
import type { WorkerRole } from '../workers/roles.js';
import { PAUSE_REASONS } from '../batch/progress.js';

/** How long a scrape waits for the visibility counts before reporting none. */
const COUNT_DEADLINE_MS = 3000;

export interface FleetGaugeDeps {
  client: Client;
  logger: Logger;
  roles: readonly WorkerRole[];
  accounts: Accounts;
}

/** Paused batches by reason; on a visibility error the gauge has no samples (stale counts would lie). */
function pausedBatches(registry: Registry, { client, logger }: FleetGaugeDeps): void {
  new Gauge({
    name: 'scrapeflow_batches_paused',
    help: 'Batches paused now, by reason (auth, balance, outage, budget, manual), from Temporal visibility',
    labelNames: ['reason'],
    registers: [registry],
    async collect() {
      this.reset();
      try {
        const counts = await client.withDeadline(Date.now() + COUNT_DEADLINE_MS, () =>
          Promise.all(
            PAUSE_REASONS.map((reason) => client.workflow.count(batchListQuery({ pauseReasons: [reason] }))),
          ),
        );
        PAUSE_REASONS.forEach((reason, i) => this.set({ reason }, counts[i]!.count));
      } catch (err) {
        logger.warn({ err }, 'could not count paused batches for the metrics page');
      }
    },
  });
}

export function registerFleetGauges(registry: Registry, deps: FleetGaugeDeps): void {
  if (deps.roles.includes('workflows')) pausedBatches(registry, deps);
  if (deps.roles.includes('scrape')) {
    const plan = new Gauge({
      name: 'scrapeflow_plan_concurrency',
      help: "The plan's concurrency limit of each account this worker has a key for",
      labelNames: ['account'],
      registers: [registry],
    });
    for (const account of deps.accounts.list()) plan.set({ account: account.name }, account.plan);
  }
}

/**
 * What a worker role is to the process that runs it (see process.ts): a precondition on the
 * configuration, and a start that creates the role's workers on the process's shared connection.
 */
import type { NativeConnection, Worker } from '@temporalio/worker';
import type { Client } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import type { Config } from '../config/env.js';
import type { Accounts } from '../config/accounts.js';
import type { Logger } from '../logging/logger.js';
import type { ResultStore } from '../store/types.js';
import type { BalanceWatcher } from '../alerts/balance-watcher.js';
import type { EventSink } from '../events/types.js';
import type { ScrapeMetrics } from '../metrics/scrape-metrics.js';
import type { PageNotifier } from '../activities/scrape.js';
import type { OmniScrapeApi } from '../omniscrape/api.js';
import { rateLimitedSignal } from '../workflows/definitions.js';
import type { Tracing } from '../tracing/index.js';

/** What every role gets from the process. */
export interface RoleContext {
  config: Config;
  logger: Logger;
  store: ResultStore;
  client: Client;
  connection: NativeConnection;
  namespace: string;
  dataConverter: DataConverter;
  /** Where the process records events (src/events/sink.ts): the record activity, the balance watcher. */
  events: EventSink;
  /** Low-balance events, when LOW_BALANCE_THRESHOLD is set. */
  balanceWatcher?: BalanceWatcher;
  metrics?: ScrapeMetrics;
  /** The OmniScrape accounts (keys and plans), loaded once for the scrape and browser roles. */
  accounts: Accounts;
  /** Injected in tests; the scrape role builds it from the config otherwise. */
  api?: OmniScrapeApi & { close?(): Promise<void> };
  /** This process's tracing, when it traces (src/tracing): the roles' workers and activities use it. */
  tracing?: Tracing;
}

/** A started role: its workers (created, not yet running) and what its start line says. */
export interface StartedRole {
  workers: Worker[];
  /** Fields of the `<role> worker started` log line. */
  info: Record<string, unknown>;
  /** Closes what the role opened, after its workers stopped. */
  close?(): Promise<void>;
}

/** A role's precondition on the configuration (an OmniScrape key), checked before anything connects. */
export interface RoleDefinition {
  require?(config: Config, deps: { api?: unknown; accounts: Accounts }): void;
  start(ctx: RoleContext): Promise<StartedRole>;
}

/** Tells the page workflow whose call met a 429 (its adaptive window shrinks under sustained 429s). */
export function temporalNotifier(client: Client, logger: Logger): PageNotifier {
  return {
    async rateLimited(workflowId) {
      try {
        await client.workflow.getHandle(workflowId).signal(rateLimitedSignal);
      } catch (err) {
        logger.debug({ err, workflowId }, 'page did not take the rate-limit signal');
      }
    },
  };
}

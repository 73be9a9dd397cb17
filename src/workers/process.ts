/**
 * A worker process (`scrapeflow worker --queue <roles>`, and the `dev` stack): one or more roles, each
 * the workers of one task queue, over what a process has once: the Temporal runtime (logs, metrics
 * exporter), one `NativeConnection`, the data converter, the event sink, the low-balance watcher and the
 * Prometheus endpoint.
 *
 * - `workflows`: the batch and page workflows and their bookkeeping activities (queue `scrapeflow`).
 * - `scrape`: the OmniScrape HTTP activities only (queue `scrape`); its slots are the plan's limit.
 * - `browser`: the BaaS sessions (queue `browser`).
 * Splitting them lets workflow processing scale apart from OmniScrape slots; a process can run several
 * (`workflows,scrape`, or `all` as `dev` does).
 *
 * Before polling anything, the process checks that the namespace is set up for scrapeflow
 * (`TemporalNotSetUpError`, naming `scrapeflow cluster setup`), so a worker against a bare cluster
 * stops at once instead of failing each task. On `shutdown` every worker drains together.
 */
import { NativeConnection } from '@temporalio/worker';
import type { Client } from '@temporalio/client';
import { clientAddress } from '../client/temporal.js';
import type { Config } from '../config/env.js';
import { Accounts, loadAccounts } from '../config/accounts.js';
import type { Logger } from '../logging/logger.js';
import type { ResultStore } from '../store/types.js';
import { createBalanceWatcher } from '../alerts/balance-watcher.js';
import { openEventSink } from '../events/sink.js';
import type { EventSink } from '../events/types.js';
import { dataConverterFromConfig } from '../codec/data-converter.js';
import { createScrapeMetrics, type ScrapeMetrics } from '../metrics/scrape-metrics.js';
import { prepareWorkerMetrics } from '../metrics/worker-metrics.js';
import { registerFleetGauges } from '../metrics/fleet-metrics.js';
import type { OmniScrapeApi } from '../omniscrape/api.js';
import {
  resolveTemporalConnection,
  unavailableMessage,
  type TemporalConnectionSettings,
} from '../temporal/connection.js';
import { requireSetup } from '../temporal/setup.js';
import { installRuntime } from './runtime.js';
import type { RoleDefinition, StartedRole } from './role.js';
import type { WorkerRole } from './roles.js';
import { TemporalUnavailableError } from '../errors.js';
import { processTracing } from '../tracing/index.js';

/**
 * Each role's module, loaded only in a process that runs the role: the browser role's Playwright alone
 * is about a second of CPU at every worker start.
 */
const ROLES: Record<WorkerRole, () => Promise<RoleDefinition>> = {
  workflows: async () => (await import('./workflows.js')).workflowsRole,
  scrape: async () => (await import('./scrape.js')).scrapeRole,
  browser: async () => (await import('./browser.js')).browserRole,
};

export interface WorkerProcessDeps {
  config: Config;
  logger: Logger;
  store: ResultStore;
  client: Client;
  roles: readonly WorkerRole[];
  /** The connection to use instead of the one the environment configures (the dev stack's server). */
  connection?: TemporalConnectionSettings;
  /** Injected in tests; built from the config otherwise. */
  api?: OmniScrapeApi & { close?(): Promise<void> };
  /** Where events are recorded, injected in tests. @default `openEventSink` of the config (src/events/sink.ts) */
  events?: EventSink;
  /** Where the accounts file's `keyEnv` variables are read. @default process.env */
  env?: NodeJS.ProcessEnv;
}

export interface RunningWorker {
  roles: readonly WorkerRole[];
  /** Resolves when every worker has stopped. */
  done: Promise<void>;
  /** Drains and stops. */
  shutdown(): Promise<void>;
  /** The Prometheus endpoint, when SCRAPEFLOW_METRICS_PORT is set. */
  metricsUrl?: string;
}

/** Connects a worker connection; a server that does not answer is a `TemporalUnavailableError`. */
async function connectNative(settings: TemporalConnectionSettings): Promise<NativeConnection> {
  try {
    return await NativeConnection.connect(settings.options);
  } catch (err) {
    throw new TemporalUnavailableError(unavailableMessage(settings, err), { cause: err });
  }
}

export async function startWorkers(deps: WorkerProcessDeps): Promise<RunningWorker> {
  const { config, logger, client, roles } = deps;
  if (roles.length === 0) throw new Error('a worker process needs at least one role');
  const tracing = await processTracing(`scrapeflow-worker-${roles.join('-')}`);
  const store = tracing ? tracing.traceStore(deps.store) : deps.store;
  // Only the roles that call OmniScrape read keys: a workflows worker needs none.
  const accounts = roles.some((r) => r !== 'workflows') ? loadAccounts(config, deps.env) : new Accounts([]);
  const definitions = await Promise.all(
    roles.map(async (role) => ({ role, definition: await ROLES[role]() })),
  );
  for (const { definition } of definitions) definition.require?.(config, { ...deps, accounts });
  const settings = deps.connection ?? resolveTemporalConnection(config);
  const dataConverter = dataConverterFromConfig(config); // a bad key fails here, before anything starts
  await requireSetup(client.connection, settings.namespace, clientAddress(client));

  const prepared = await prepareWorkerMetrics(config);
  const metrics: ScrapeMetrics | undefined =
    prepared && roles.some((r) => r !== 'browser') ? createScrapeMetrics(prepared.registry) : undefined;
  if (prepared) registerFleetGauges(prepared.registry, { client, logger, roles, accounts });
  installRuntime(logger, prepared ? { prometheusBindAddress: prepared.runtimeAddress } : {});
  const events = deps.events
    ? { record: deps.events.record.bind(deps.events), close: () => Promise.resolve() }
    : await openEventSink({ config, store, logger });
  const balanceWatcher =
    config.LOW_BALANCE_THRESHOLD === undefined
      ? undefined
      : createBalanceWatcher({ threshold: config.LOW_BALANCE_THRESHOLD, logger, events });
  const connection = await connectNative(settings).catch(async (err: unknown) => {
    await events.close();
    throw err;
  });
  const started: Array<{ role: WorkerRole; started: StartedRole }> = [];
  try {
    for (const { role, definition } of definitions)
      started.push({
        role,
        started: await definition.start({
          config,
          logger,
          store,
          client,
          connection,
          namespace: settings.namespace,
          dataConverter,
          events,
          ...(balanceWatcher ? { balanceWatcher } : {}),
          accounts,
          ...(metrics ? { metrics } : {}),
          ...(deps.api ? { api: deps.api } : {}),
          ...(tracing ? { tracing } : {}),
        }),
      });
  } catch (err) {
    for (const { started: s } of started) await s.close?.();
    await connection.close();
    await events.close();
    throw err;
  }
  const metricsServer = await prepared?.serve(logger);
  const encrypted = Boolean(dataConverter.payloadCodecs?.length);
  for (const { role, started: s } of started)
    logger.info(
      {
        ...s.info,
        temporal: settings.summary,
        ...(metricsServer ? { metrics: metricsServer.url } : {}),
        encrypted,
        traced: Boolean(tracing),
      },
      `${role} worker started`,
    );
  const workers = started.flatMap((s) => s.started.workers);
  const done = Promise.all(workers.map((w) => w.run())).then(async () => {
    for (const { started: s } of started) await s.close?.();
    await connection.close();
    await events.close();
    await metricsServer?.close();
    logger.info({ roles }, 'worker stopped');
  });
  return {
    roles,
    done,
    ...(metricsServer ? { metricsUrl: metricsServer.url } : {}),
    async shutdown() {
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
      await done;
    },
  };
}

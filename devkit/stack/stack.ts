/**
 * The embedded stack behind `scrapeflow dev` and `scrapeflow demo`, in one process where possible:
 * the Temporal dev server with its Web UI (a child process, managed by ../temporal/dev-server.ts), the local
 * OmniScrape API with one local account whose key the workers get, the demo site, a worker of every role
 * (`worker --queue all`) and the HTTP service. Its processes talk to its own dev server in plaintext,
 * whatever TEMPORAL_TLS, TEMPORAL_API_KEY or a Temporal profile say. `stop()` closes them in reverse order and leaves no process behind. The store is
 * the one the environment configures, as for every other command: PostgreSQL when
 * SCRAPEFLOW_DATABASE_URL is set (so a CLI in another shell with the same variable writes where these
 * workers read), else files under the data directory.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Client } from '@temporalio/client';
import { connectClient } from '../../src/client/temporal.js';
import { loadConfig, type Config } from '../../src/config/env.js';
import { startDemoSite, type DemoSite } from '../demo-site/index.js';
import {
  startLocalApi,
  faultRuleSchema,
  type FaultRuleInput,
  type LocalApiHandle,
} from '../local-api/index.js';
import type { Logger } from '../../src/logging/logger.js';
import { startService, type RunningService } from '../../src/service/server.js';
import { openStore } from '../../src/store/index.js';
import type { ResultStore } from '../../src/store/types.js';
import { startDevServer, type DevServer } from '../temporal/dev-server.js';
import { plainConnection } from '../../src/temporal/connection.js';
import { startWorkers } from '../../src/workers/process.js';
import { WORKER_ROLES } from '../../src/workers/roles.js';
import { StackStartError } from '../../src/errors.js';
import { DEFAULT_PLAN } from '../../src/batch/defaults.js';
import { DEFAULT_PORTS, type StackPorts } from './ports.js';

export interface EmbeddedStackOptions {
  /** Ports; 0 picks a free one. @default DEFAULT_PORTS */
  ports?: Partial<StackPorts>;
  /**
   * Keeps Temporal's database (`temporal.db`) and the filesystem store (when SCRAPEFLOW_DATABASE_URL is
   * not set) here across restarts. @default a temporary directory, removed at stop
   */
  dataDir?: string;
  /** A JSON file of local-API fault rules: an array, or `{ "faults": [...] }`. */
  faultsFile?: string;
  /** Credits of the local account. @default 100000 */
  balance?: number;
  /** The local account's plan concurrency (the workers' permits hold it). @default DEFAULT_PLAN */
  concurrency?: number;
  /** Bearer token of the HTTP service. @default SCRAPEFLOW_API_TOKEN, else generated */
  apiToken?: string;
  logger: Logger;
}

export interface EmbeddedStack {
  config: Config;
  client: Client;
  store: ResultStore;
  temporalAddress: string;
  uiUrl: string | undefined;
  apiUrl: string;
  demoOrigin: string;
  /** The demo site, to change its catalogue (a monitor's second run shows what changed). */
  demo: DemoSite;
  serviceUrl: string;
  apiToken: string;
  dataDir: string;
  /** Stops everything (reverse start order); safe to call twice. */
  stop(): Promise<void>;
}

async function readFaults(path: string): Promise<FaultRuleInput[]> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new StackStartError(
      `--faults ${path}: ${(err as Error).message} (give a JSON array of fault rules)`,
    );
  }
  const list = Array.isArray(json) ? json : (json as { faults?: unknown }).faults;
  if (!Array.isArray(list))
    throw new StackStartError(`--faults ${path}: expected an array or {"faults": [...]}`);
  list.forEach((rule, i) => {
    const parsed = faultRuleSchema.safeParse(rule);
    if (!parsed.success)
      throw new StackStartError(
        `--faults ${path}: faults.${i}.${parsed.error.issues[0]?.path.join('.') ?? ''}: ${parsed.error.issues[0]?.message ?? 'invalid'}`,
      );
  });
  return list as FaultRuleInput[];
}

export async function startEmbeddedStack(options: EmbeddedStackOptions): Promise<EmbeddedStack> {
  const { logger } = options;
  const ports = { ...DEFAULT_PORTS, ...options.ports };
  const faults = options.faultsFile ? await readFaults(options.faultsFile) : [];
  const ownDir = !options.dataDir;
  const dataDir = options.dataDir
    ? resolve(options.dataDir)
    : await mkdtemp(join(tmpdir(), 'scrapeflow-dev-'));
  await mkdir(join(dataDir, 'store'), { recursive: true });
  const apiKey = `sk-local-${randomBytes(16).toString('hex')}`;
  const concurrency = options.concurrency ?? DEFAULT_PLAN;

  /** What is running, in start order; stopped in reverse. */
  const stops: Array<{ name: string; stop: () => Promise<void> }> = [];
  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      for (const { name, stop: close } of stops.reverse()) {
        try {
          await close();
        } catch (err) {
          logger.error({ err, component: name }, 'stopping failed');
        }
      }
      if (ownDir) await rm(dataDir, { recursive: true, force: true });
    })());

  try {
    const started = await Promise.allSettled([
      startDevServer({
        port: ports.temporal,
        ui: true,
        uiPort: ports.ui,
        dbFile: ownDir ? undefined : join(dataDir, 'temporal.db'),
      }),
      startLocalApi({
        port: ports.api,
        accounts: [{ id: 'local', key: apiKey, balance: options.balance ?? 100_000, concurrency }],
        faults,
        logger: logger.child({ component: 'local-api' }),
      }),
      startDemoSite({ port: ports.demo, logger: logger.child({ component: 'demo-site' }) }),
    ]);
    const [temporalR, apiR, demoR] = started;
    if (temporalR.status === 'fulfilled')
      stops.push({ name: 'temporal', stop: () => temporalR.value.stop() });
    if (apiR.status === 'fulfilled') stops.push({ name: 'local-api', stop: () => apiR.value.close() });
    if (demoR.status === 'fulfilled') stops.push({ name: 'demo-site', stop: () => demoR.value.close() });
    const failed = started.find((r) => r.status === 'rejected');
    if (failed) {
      const reason = failed.reason as NodeJS.ErrnoException;
      const which =
        failed === temporalR ? 'Temporal dev server' : failed === apiR ? 'local API' : 'demo site';
      throw new StackStartError(
        reason.code === 'EADDRINUSE'
          ? `the ${which}'s port is in use (${reason.message}): choose another with its --*-port flag, or stop what holds it`
          : `the ${which} did not start: ${reason.message}`,
      );
    }
    const temporal = (temporalR as PromiseFulfilledResult<DevServer>).value;
    const api = (apiR as PromiseFulfilledResult<LocalApiHandle>).value;
    const demo = (demoR as PromiseFulfilledResult<DemoSite>).value;

    const apiToken = options.apiToken ?? process.env.SCRAPEFLOW_API_TOKEN ?? randomBytes(18).toString('hex');
    const config = loadConfig({
      ...process.env,
      TEMPORAL_ADDRESS: temporal.address,
      TEMPORAL_NAMESPACE: 'default',
      OMNISCRAPE_API_URL: api.url,
      OMNISCRAPE_KEY: apiKey,
      OMNISCRAPE_PLAN_CONCURRENCY: String(concurrency),
      SCRAPEFLOW_DATA_DIR: join(dataDir, 'store'),
      SCRAPEFLOW_API_TOKEN: apiToken,
      // The links events carry point at this stack's service.
      SCRAPEFLOW_PUBLIC_URL: process.env.SCRAPEFLOW_PUBLIC_URL ?? `http://127.0.0.1:${ports.service}`,
    });
    const store = await openStore(config);
    stops.push({ name: 'store', stop: () => store.close() });
    // The stack's own dev server: plaintext and local, whatever TEMPORAL_TLS_* or a profile configure.
    const connection = plainConnection(temporal.address, config.TEMPORAL_NAMESPACE);
    const client = await connectClient(config, { connection });
    stops.push({ name: 'client', stop: () => client.connection.close() });
    const workers = await startWorkers({
      config,
      logger: logger.child({ component: 'worker' }),
      store,
      client,
      roles: WORKER_ROLES,
      connection,
    });
    stops.push({ name: 'workers', stop: () => workers.shutdown() });
    let service: RunningService;
    try {
      service = await startService({
        config,
        logger: logger.child({ component: 'service' }),
        port: ports.service,
        client,
        store,
      });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE')
        throw new StackStartError(
          `the service port ${ports.service} is in use: choose another with --service-port`,
        );
      throw err;
    }
    stops.push({ name: 'service', stop: () => service.close() });
    return {
      config,
      client,
      store,
      temporalAddress: temporal.address,
      uiUrl: temporal.uiUrl,
      apiUrl: api.url,
      demoOrigin: demo.origin,
      demo,
      serviceUrl: service.url,
      apiToken,
      dataDir,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * The real stack for integration tests: a Temporal CLI dev server, the local OmniScrape API (in this
 * process, or with `apiStateFile` a process of its own that a test can kill), the demo site, and worker
 * processes started from `bin/scrapeflow` (so `kill -9` kills a real process).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer, connect, type AddressInfo, type Socket } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import type { Client } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import {
  freePort,
  startDevServer,
  type DevServer,
  type DevServerOptions,
} from '../../devkit/temporal/dev-server.js';
import { connectClient } from '../../src/client/temporal.js';
import { startLocalApi, type LocalApiHandle } from '../../devkit/local-api/index.js';
import { startDemoSite, type DemoSite } from '../../devkit/demo-site/index.js';
import { FsStore } from '../../src/store/fs-store.js';
import { PgStore } from '../../src/store/pg-store.js';
import type { ResultRecord, ResultStore } from '../../src/store/types.js';
import { BIN } from './cli.js';
import { startLocalApiProcess, type LocalApiProcess } from './local-api-process.js';
import { startCluster, type ClusterOptions, type TestCluster } from './cluster.js';

export const ADMIN_TOKEN = 'test-admin-token';

export interface StackOptions {
  balance?: number;
  /** The plan's concurrency limit, enforced by the local API and held by the workers' permits. @default 5 */
  concurrency?: number;
  devServer?: DevServerOptions;
  /**
   * A real cluster (`scrapeflow cluster up`: temporal-server on PostgreSQL, SQL visibility, optionally
   * mTLS) instead of the dev server; `devServer` is then ignored, and every process connects with the
   * cluster's `env`.
   */
  cluster?: ClusterOptions;
  minPollIntervalMs?: number;
  /** PostgreSQL store for the workers and the test (SCRAPEFLOW_DATABASE_URL); files when unset. */
  databaseUrl?: string;
  /** Environment added to every worker process (e.g. encryption keys, metrics port). */
  workerEnv?: Record<string, string>;
  /** The test client's data converter (e.g. the encryption codec the workers use). */
  clientDataConverter?: DataConverter;
  /** Browser (BaaS) sessions the account may hold open at once. @default 2 */
  browserSessions?: number;
  /**
   * Further accounts of the local API beside `test` (whose key is OMNISCRAPE_KEY), each with a key of
   * its own (`Stack.keys`) and its plan (`concurrency`). Workers learn them from an accounts file.
   */
  accounts?: Array<{ id: string; concurrency: number; balance?: number }>;
  /**
   * Workers reach the local API through a relay on a port of its own, so that `stopApi` and
   * `restartApi` can take the API's address away and give it back. @default false
   */
  restartableApi?: boolean;
  /**
   * Runs the local API as a process of its own (`scrapeflow local-api`) that keeps its balances, counters
   * and charges in this file, so `apiProcess.kill()` / `apiProcess.start()` make an outage it survives.
   * Its state is then read through `admin()`; `api` is not available. @default in this process
   */
  apiStateFile?: string;
}

/**
 * The `--queue` of a worker process: one role, or a comma list (`workflows,scrape` runs the workflows
 * and the OmniScrape calls in one process, as one worker did before the roles were split).
 */
export type WorkerQueue = 'workflows' | 'scrape' | 'browser' | 'workflows,scrape' | 'all';

export interface WorkerProcess {
  child: ChildProcess;
  queue: WorkerQueue;
  /** Every JSON log line the worker printed. */
  lines: string[];
  exited: Promise<void>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export interface Stack {
  /** The dev server now running (replaced by `restartTemporal`), or the cluster. */
  readonly temporal: DevServer | TestCluster;
  /** What a scrapeflow process needs to reach Temporal (TEMPORAL_ADDRESS; with a TLS cluster its files). */
  readonly temporalEnv: Record<string, string>;
  client: Client;
  /** The in-process local API (throws when the stack runs it as a process: `apiStateFile`). */
  readonly api: LocalApiHandle;
  /** The local API's process, with `apiStateFile`. */
  apiProcess: LocalApiProcess | undefined;
  /** The OmniScrape base URL the workers call. */
  apiUrl: string;
  demoOrigin: string;
  demo: DemoSite;
  apiKey: string;
  /** Every account's key by account id (`test` and `options.accounts`). */
  keys: Record<string, string>;
  /** The plan's concurrency limit of the account (`concurrency`). */
  plan: number;
  dataDir: string;
  store: ResultStore;
  workers: WorkerProcess[];
  /**
   * Spawns `scrapeflow worker --queue <queue>` (default `workflows,scrape`) and waits for the start
   * line of each of its roles. `bin` runs another build's executable (test/support/build.ts). A
   * variable given as '' is left out of the worker's environment.
   */
  startWorker(env?: Record<string, string>, queue?: WorkerQueue, bin?: string): Promise<WorkerProcess>;
  /**
   * Stops the Temporal dev server and starts it again on the same port and database file, so workers
   * and the client reconnect to the same address and find their workflows. Needs `devServer.port` and
   * `devServer.dbFile`; a cluster restarts on its own port and databases.
   */
  restartTemporal(): Promise<void>;
  /**
   * OmniScrape goes down as the workers see it: its address refuses connections and the calls in
   * flight are cut. The local API itself keeps running, so its accounts, balance and counters are
   * those of before when `restartApi` brings the address back. Needs `restartableApi`.
   */
  stopApi(): Promise<void>;
  /** Listens again on the port `stopApi` closed. */
  restartApi(): Promise<void>;
  admin<T = unknown>(method: string, path: string, body?: unknown): Promise<T>;
  /** Every terminal record of a batch, in index order. */
  records(batchId: string): Promise<ResultRecord[]>;
  stop(): Promise<void>;
}

/**
 * A TCP relay from a port of its own to `targetPort`, which can stop listening (connections refused,
 * those open cut) and listen again on the same port.
 */
async function startRelay(targetPort: number) {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1');
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', drop).on('close', drop);
    }
    client.pipe(upstream).pipe(client);
  });
  let port = 0;
  const listen = async () => {
    server.listen(port, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
  };
  await listen();
  return {
    port,
    listen,
    async close() {
      if (!server.listening) return;
      const closed = once(server, 'close');
      server.close();
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}

/** Runs the starts together; when one fails, stops those that started and rethrows. */
async function startAll<T extends readonly unknown[]>(
  starts: { [K in keyof T]: Promise<T[K]> },
  stop: (started: unknown) => Promise<void>,
): Promise<T> {
  const settled = await Promise.allSettled(starts);
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (!failed) return settled.map((s) => (s as PromiseFulfilledResult<unknown>).value) as unknown as T;
  await Promise.all(
    settled.flatMap((s) => (s.status === 'fulfilled' ? [stop(s.value).catch(() => undefined)] : [])),
  );
  throw failed.reason;
}

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const newKey = () => `sk-test-${randomBytes(12).toString('hex')}`;
  const apiKey = newKey();
  const concurrency = options.concurrency ?? 5;
  const dataDir = await mkdtemp(join(tmpdir(), 'scrapeflow-test-'));
  const others = (options.accounts ?? []).map((a) => ({ balance: 1_000_000, ...a, key: newKey() }));
  const keys = Object.fromEntries([['test', apiKey], ...others.map((a) => [a.id, a.key])]) as Record<
    string,
    string
  >;
  const apiConfig = {
    accounts: [
      {
        id: 'test',
        key: apiKey,
        balance: options.balance ?? 1_000_000,
        concurrency,
        ...(options.browserSessions ? { browserSessions: options.browserSessions } : {}),
      },
      ...others,
    ],
    adminToken: ADMIN_TOKEN,
    minPollIntervalMs: options.minPollIntervalMs ?? 100,
  };
  // A part that fails to start (a port taken meanwhile) must not leave the others holding the process.
  const [firstTemporal, localApi, demo] = await startAll<
    [DevServer | TestCluster, LocalApiHandle | LocalApiProcess, DemoSite]
  >(
    [
      options.cluster ? startCluster(options.cluster) : startDevServer(options.devServer),
      options.apiStateFile === undefined
        ? startLocalApi(apiConfig)
        : startLocalApiProcess(
            { ...apiConfig, faults: [], port: await freePort(), stateFile: options.apiStateFile },
            join(dataDir, 'local-api.json'),
          ),
      startDemoSite({}),
    ],
    async (started) => {
      const part = started as DevServer | LocalApiHandle | LocalApiProcess | DemoSite;
      if ('state' in part) await part.close();
      else if ('kill' in part) await part.kill();
      else await ('stop' in part ? part.stop() : part.close());
    },
  );
  const api = 'state' in localApi ? localApi : undefined;
  const apiProcess = 'state' in localApi ? undefined : localApi;
  const relay = options.restartableApi ? await startRelay(Number(new URL(localApi.url).port)) : undefined;
  const workerApiUrl = relay ? `http://127.0.0.1:${relay.port}/v1` : localApi.url;
  let temporal = firstTemporal;
  const temporalEnv = () => ('env' in temporal ? temporal.env : { TEMPORAL_ADDRESS: temporal.address });
  const client = await connectClient(
    { ...temporalEnv(), TEMPORAL_NAMESPACE: 'default' },
    options.clientDataConverter ? { dataConverter: options.clientDataConverter } : {},
  );
  const workers: WorkerProcess[] = [];
  const store: ResultStore = options.databaseUrl
    ? await PgStore.open(options.databaseUrl)
    : new FsStore(dataDir);

  const startWorker = async (
    env: Record<string, string> = {},
    queue: WorkerQueue = 'workflows,scrape',
    bin = BIN,
  ): Promise<WorkerProcess> => {
    const child = spawn(process.execPath, [bin, 'worker', '--queue', queue], {
      env: withoutEmpty({
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '',
        ...temporalEnv(),
        OMNISCRAPE_API_URL: workerApiUrl,
        OMNISCRAPE_KEY: apiKey,
        OMNISCRAPE_PLAN_CONCURRENCY: String(concurrency),
        SCRAPEFLOW_DATA_DIR: dataDir,
        LOG_LEVEL: 'info',
        ...(options.databaseUrl ? { SCRAPEFLOW_DATABASE_URL: options.databaseUrl } : {}),
        ...options.workerEnv,
        ...env,
      }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const lines: string[] = [];
    const exited = once(child, 'exit').then(() => undefined);
    // A test process that dies (timeout, crash) takes its workers along instead of orphaning them.
    const killOnExit = () => child.kill('SIGKILL');
    process.once('exit', killOnExit);
    void exited.then(() => process.off('exit', killOnExit));
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4000);
    });
    const roles = queue === 'all' ? ['workflows', 'scrape', 'browser'] : queue.split(',');
    const waiting = new Set(roles.map((role) => `"${role} worker started"`));
    const started = new Promise<void>((resolve, reject) => {
      createInterface({ input: child.stdout }).on('line', (line) => {
        lines.push(line);
        for (const marker of waiting) if (line.includes(marker)) waiting.delete(marker);
        if (waiting.size === 0) resolve();
      });
      void exited.then(() => reject(new Error(`worker exited before starting: ${stderr}`)));
    });
    await started;
    const worker: WorkerProcess = {
      child,
      queue,
      lines,
      exited,
      async kill(signal = 'SIGKILL') {
        if (child.exitCode === null && child.signalCode === null) child.kill(signal);
        await exited;
      },
    };
    workers.push(worker);
    return worker;
  };

  const admin = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${localApi.origin}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${ADMIN_TOKEN}`,
        ...(body ? { 'content-type': 'application/json' } : {}),
      },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    if (!res.ok) throw new Error(`admin ${method} ${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  };

  const restartTemporal = async (): Promise<void> => {
    if ('restart' in temporal) return temporal.restart();
    const dev = options.devServer;
    if (!dev?.port || !dev.dbFile)
      throw new Error('restartTemporal needs devServer.port and devServer.dbFile');
    await temporal.stop();
    temporal = await startDevServer(dev);
  };

  const needRelay = () => {
    if (!relay) throw new Error('stopApi and restartApi need restartableApi');
    return relay;
  };

  return {
    get temporal() {
      return temporal;
    },
    get temporalEnv() {
      return temporalEnv();
    },
    client,
    get api() {
      if (!api) throw new Error('the local API runs as a process here: read it through admin()');
      return api;
    },
    apiProcess,
    apiUrl: localApi.url,
    demoOrigin: demo.origin,
    demo,
    apiKey,
    keys,
    plan: concurrency,
    dataDir,
    store,
    workers,
    startWorker,
    restartTemporal,
    stopApi: () => needRelay().close(),
    restartApi: () => needRelay().listen(),
    admin,
    async records(batchId) {
      const out: ResultRecord[] = [];
      for await (const record of store.listResults(batchId)) out.push(record);
      return out;
    },
    async stop() {
      await Promise.all(workers.map((w) => w.kill('SIGKILL')));
      await client.connection.close();
      await relay?.close();
      await Promise.all([temporal.stop(), api?.close() ?? apiProcess?.kill(), demo.close()]);
      await store.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Polls `probe` until it returns a value, bounded by `timeoutMs` (for state owned by other processes). */
export async function eventually<T>(
  probe: () => Promise<T | undefined | false>,
  { timeoutMs = 60_000, intervalMs = 100, what = 'condition' } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Whether `needle` occurs anywhere in `value`: strings, and byte arrays decoded as UTF-8 (payloads). */
export function containsText(value: unknown, needle: string, seen = new Set<unknown>()): boolean {
  if (typeof value === 'string') return value.includes(needle);
  if (value instanceof Uint8Array) return Buffer.from(value).toString('utf8').includes(needle);
  if (value === null || typeof value !== 'object' || seen.has(value)) return false;
  seen.add(value);
  return Object.values(value).some((v) => containsText(v, needle, seen));
}

/** The environment without the variables given as '' (a worker started without, say, OMNISCRAPE_KEY). */
function withoutEmpty(env: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ''));
}

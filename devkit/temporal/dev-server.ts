/**
 * Starts the real Temporal CLI dev server (frontend + Web UI), with scrapeflow's search attributes
 * registered, waits until it answers, and stops it. Used by the tests and by `scrapeflow dev`.
 * Without a `temporal` binary it falls back to the SDK's own dev-server download.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { once } from 'node:events';
import { Connection } from '@temporalio/client';
import { findTemporalCli } from '../../src/config/binaries.js';
import { BASE_DYNAMIC_CONFIG } from '../../src/temporal/dynamic-config.js';
import { ALL_SEARCH_ATTRIBUTES, SEARCH_ATTRIBUTES } from '../../src/temporal/search-attributes.js';

export interface DevServerOptions {
  /** Frontend gRPC port; 0 picks a free one. @default 0 */
  port?: number;
  /** Web UI port; 0 picks a free one. Ignored when `ui` is false. @default 0 */
  uiPort?: number;
  /** Serve the Web UI. @default false */
  ui?: boolean;
  /** SQLite file for persistence across restarts; in-memory when unset. */
  dbFile?: string;
  /** Extra `--dynamic-config-value KEY=VALUE` pairs, e.g. `{ 'limit.historyCount.suggestContinueAsNew': 500 }`. */
  dynamicConfig?: Record<string, string | number | boolean>;
  /** How long to wait for the server to answer, in ms. @default 60000 */
  startTimeoutMs?: number;
  /**
   * Register scrapeflow's search attributes (ALL_SEARCH_ATTRIBUTES) at start; false gives a bare server,
   * as a fresh cluster is (for `scrapeflow cluster setup` and its tests). @default true
   */
  searchAttributes?: boolean;
  /** Port of the server's Prometheus `/metrics` endpoint (benchmarks read it); a random one when unset. */
  metricsPort?: number;
  /** Receives the server's stderr/stdout lines (noisy); dropped by default. */
  onOutput?: (line: string) => void;
}

export interface DevServer {
  /** `host:port` of the frontend. */
  address: string;
  /** Web UI base URL, when served. */
  uiUrl: string | undefined;
  /** The server's process id, when this module started the binary itself (for CPU and memory figures). */
  pid?: number;
  /** Stops the server and waits for it to exit. */
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  server.close();
  await once(server, 'close');
  return port;
}

/** Polls the frontend until it answers a namespace description, bounded by `timeoutMs`. */
export async function waitForTemporal(address: string, timeoutMs: number, exited?: () => string | undefined) {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    const why = exited?.();
    if (why) throw new Error(`Temporal dev server exited during start-up: ${why}`);
    try {
      const connection = await Connection.connect({ address, connectTimeout: 1000 });
      try {
        await connection.workflowService.describeNamespace({ namespace: 'default' });
        return;
      } finally {
        await connection.close();
      }
    } catch (err) {
      lastError = err;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  throw new Error(
    `Temporal dev server at ${address} did not answer within ${timeoutMs} ms: ${String(lastError)}`,
  );
}

export async function startDevServer(options: DevServerOptions = {}): Promise<DevServer> {
  const binary = findTemporalCli();
  const port = options.port || (await freePort());
  const dynamicConfig = Object.entries({ ...BASE_DYNAMIC_CONFIG, ...options.dynamicConfig }).map(
    ([k, v]) => `${k}=${JSON.stringify(v)}`,
  );
  if (!binary) return startWithSdkDownload(port, options, dynamicConfig);
  // A free port can be taken by another process before the server binds it (or one of the ports it
  // derives from it): with ports of our own choosing, a bind failure is retried on new ones.
  for (let tries = 1; ; tries++) {
    try {
      return await startCli(binary, tries === 1 ? port : await freePort(), options, dynamicConfig);
    } catch (err) {
      const taken = err instanceof Error && /address already in use/.test(err.message);
      if (!taken || tries >= 3 || options.port || options.uiPort) throw err;
    }
  }
}

async function startCli(
  binary: string,
  port: number,
  options: DevServerOptions,
  dynamicConfig: string[],
): Promise<DevServer> {
  const uiPort = options.ui ? options.uiPort || (await freePort()) : undefined;
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--log-level', 'error'];
  args.push(...(uiPort ? ['--ui-port', String(uiPort)] : ['--headless']));
  if (options.dbFile) args.push('--db-filename', options.dbFile);
  if (options.metricsPort) args.push('--metrics-port', String(options.metricsPort));
  if (options.searchAttributes !== false)
    for (const [name, type] of Object.entries(SEARCH_ATTRIBUTES))
      args.push('--search-attribute', `${name}=${type}`);
  for (const pair of dynamicConfig) args.push('--dynamic-config-value', pair);

  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  // If this process ends without stopping the server (a crash, a test timeout), take the server along.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  child.once('exit', () => process.off('exit', killOnExit));
  let exitReason: string | undefined;
  let tail = '';
  const collect = (chunk: Buffer) => {
    const text = chunk.toString();
    tail = (tail + text).slice(-2000);
    if (options.onOutput) for (const line of text.split('\n')) if (line) options.onOutput(line);
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  child.once('exit', (code, signal) => {
    exitReason = `code ${code} signal ${signal}: ${tail}`;
  });
  const address = `127.0.0.1:${port}`;
  try {
    await waitForTemporal(address, options.startTimeoutMs ?? 60_000, () => exitReason);
  } catch (err) {
    await stopChild(child);
    throw err;
  }
  return {
    ...(child.pid !== undefined ? { pid: child.pid } : {}),
    address,
    uiUrl: uiPort ? `http://127.0.0.1:${uiPort}` : undefined,
    stop: () => stopChild(child),
  };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/** Fallback for machines without the CLI: the SDK downloads a dev server (needs internet). */
async function startWithSdkDownload(port: number, options: DevServerOptions, dynamicConfig: string[]) {
  const extraArgs = dynamicConfig.flatMap((pair) => ['--dynamic-config-value', pair]);
  // Loaded only here: the testing package (the SDK's worker with it) is a second of start-up elsewhere.
  const { TestWorkflowEnvironment } = await import('@temporalio/testing');
  const env = await TestWorkflowEnvironment.createLocal({
    server: {
      ip: '127.0.0.1',
      port,
      ui: options.ui ?? false,
      ...(options.uiPort ? { uiPort: options.uiPort } : {}),
      ...(options.dbFile ? { dbFilename: options.dbFile } : {}),
      searchAttributes: options.searchAttributes === false ? [] : ALL_SEARCH_ATTRIBUTES,
      extraArgs,
    },
  });
  return {
    address: `127.0.0.1:${port}`,
    uiUrl: options.ui ? `http://127.0.0.1:${options.uiPort ?? port + 1000}` : undefined,
    stop: () => env.teardown(),
  } satisfies DevServer;
}

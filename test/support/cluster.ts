/**
 * A real Temporal cluster for tests and benchmarks: `scrapeflow cluster up` as a user runs it (the
 * temporal-server binary on PostgreSQL with SQL visibility), in databases of its own, optionally with
 * mTLS, set up with `scrapeflow cluster setup`. It has the shape of the dev server handle the stack uses
 * (`address`, `pid`, `stop`), plus the environment every scrapeflow process needs to reach it (`env`:
 * TEMPORAL_ADDRESS and the TEMPORAL_TLS_* files), and `restart` on the same port and databases.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { findTemporalSchemaDir, findTemporalServer, findTemporalSqlTool } from '../../src/config/binaries.js';
import { freePort } from '../../devkit/temporal/dev-server.js';
import { TLS_FILES } from '../../src/temporal/defaults.js';
import { makeTestCerts, type TestCerts } from './certs.js';
import { BIN, runCli } from './cli.js';
import { TEST_DATABASE_ADMIN_URL, dropTestDatabases } from './database.js';

/** PostgreSQL where the cluster's databases are created (and dropped), as a superuser. */
export const CLUSTER_ADMIN_URL = TEST_DATABASE_ADMIN_URL;

/** Why a cluster cannot start here (the binaries of `setup.sh --cluster` missing), or undefined. */
export function clusterUnavailable(): string | undefined {
  try {
    findTemporalServer();
    findTemporalSqlTool();
    findTemporalSchemaDir();
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

/** Drops a cluster's persistence database and its `<db>_visibility`, whoever is still connected. */
export function dropClusterDatabases(database: string): Promise<void> {
  return dropTestDatabases(database, `${database}_visibility`);
}

export interface ClusterOptions {
  /** mTLS on the frontend, with certificates made by openssl for this cluster. @default false */
  tls?: boolean;
}

export interface TestCluster {
  /** `host:port` of the frontend. */
  readonly address: string;
  uiUrl: undefined;
  /** The temporal-server process (for CPU figures); changes on `restart`. */
  readonly pid: number | undefined;
  /** What a scrapeflow process needs to connect: TEMPORAL_ADDRESS, and with TLS the TEMPORAL_TLS_* files. */
  env: Record<string, string>;
  /** The persistence database's URL (visibility is `<db>_visibility`). */
  databaseUrl: string;
  certs: TestCerts | undefined;
  /** Every line `cluster up` printed, across restarts. */
  lines: string[];
  /** SIGTERM to `cluster up`, then `cluster up` again on the same port, databases and state dir. */
  restart(): Promise<void>;
  /** Stops the server, drops its databases, removes its files. */
  stop(): Promise<void>;
}

interface UpProcess {
  child: ChildProcess;
  exited: Promise<number | null>;
  serverPid: number | undefined;
}

export async function startCluster(options: ClusterOptions = {}): Promise<TestCluster> {
  const database = `sf_cluster_${randomBytes(4).toString('hex')}`;
  const databaseUrl = `${CLUSTER_ADMIN_URL.replace(/\/[^/]*$/, '')}/${database}`;
  const stateDir = await mkdtemp(join(tmpdir(), 'scrapeflow-cluster-'));
  const port = await freePort();
  const certs = options.tls ? await makeTestCerts() : undefined;
  const env: Record<string, string> = { TEMPORAL_ADDRESS: `127.0.0.1:${port}` };
  if (certs) {
    env.TEMPORAL_TLS_SERVER_CA_CERT_PATH = join(certs.dir, TLS_FILES.ca);
    env.TEMPORAL_TLS_CLIENT_CERT_PATH = join(certs.dir, TLS_FILES.clientCert);
    env.TEMPORAL_TLS_CLIENT_KEY_PATH = join(certs.dir, TLS_FILES.clientKey);
    env.TEMPORAL_TLS_SERVER_NAME = 'localhost';
  }
  const lines: string[] = [];

  const up = async (): Promise<UpProcess> => {
    const args = ['cluster', 'up', '--port', String(port), '--dir', stateDir];
    if (certs) args.push('--tls', certs.dir);
    // The URL through the environment, as a user gives one with a password (argv is public).
    const child = spawn(process.execPath, [BIN, ...args], {
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '',
        SCRAPEFLOW_CLUSTER_DATABASE_URL: databaseUrl,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    // A test process that dies takes the cluster along (the server stops with `cluster up`'s SIGTERM).
    const stopOnExit = () => child.kill('SIGTERM');
    process.once('exit', stopOnExit);
    const exited = once(child, 'exit').then(([code]) => {
      process.off('exit', stopOnExit);
      return code as number | null;
    });
    let stderr = '';
    child.stderr?.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)));
    let serverPid: number | undefined;
    await new Promise<void>((resolve, reject) => {
      createInterface({ input: child.stdout }).on('line', (line) => {
        lines.push(line);
        const pid = /server pid: (\d+)/.exec(line)?.[1];
        if (pid) serverPid = Number(pid);
        if (line.startsWith('ready: ')) resolve();
      });
      void exited.then((code) =>
        reject(
          new Error(`cluster up exited (${code}) before ready:\n${lines.slice(-20).join('\n')}\n${stderr}`),
        ),
      );
    });
    return { child, exited, serverPid };
  };
  const down = async (p: UpProcess) => {
    if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGTERM');
    const code = await p.exited;
    if (code !== 0) throw new Error(`cluster up exited ${code} on SIGTERM:\n${lines.slice(-20).join('\n')}`);
  };

  let current = await up();
  const setup = await runCli(
    { temporal: { address: env.TEMPORAL_ADDRESS! }, dataDir: stateDir },
    ['cluster', 'setup'],
    {
      env,
    },
  );
  if (setup.code !== 0) {
    await down(current);
    throw new Error(`cluster setup exited ${setup.code}: ${setup.stderr}`);
  }

  return {
    address: env.TEMPORAL_ADDRESS!,
    uiUrl: undefined,
    get pid() {
      return current.serverPid;
    },
    env,
    databaseUrl,
    certs,
    lines,
    async restart() {
      await down(current);
      current = await up();
    },
    async stop() {
      await down(current);
      await dropClusterDatabases(database);
      await certs?.remove();
      await rm(stateDir, { recursive: true, force: true });
    },
  };
}

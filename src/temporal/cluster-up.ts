/**
 * `scrapeflow cluster up`: the real Temporal server (all four services in one `temporal-server`
 * process) on PostgreSQL with SQL visibility, for tests, evaluation and small single-host deployments.
 * It creates the persistence and visibility databases when missing, creates or migrates their schemas
 * with `temporal-sql-tool` (nothing to do on a second start), writes the server's config and dynamic
 * config into a state directory, starts the server with its log in a file there, and waits until the
 * frontend answers. Optional mTLS on the frontend.
 *
 * Ports: the frontend listens on the port asked for; history, matching and worker (gRPC) and the four
 * membership ports are free ports picked at each start on 127.0.0.1 (the config file written names
 * them), so a cluster never collides with a dev server (7233 / 8233) or with another cluster. The
 * membership ring is kept in the persistence database, so new ports at each start are fine.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { chmod, mkdir, open, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Connection, type TLSConfig } from '@temporalio/client';
import proto from '@temporalio/proto';
import pg from 'pg';
import {
  findTemporalSchemaDir,
  findTemporalServer,
  findTemporalSqlTool,
  TEMPORAL_SERVER_VERSION,
} from '../config/binaries.js';
import { BASE_DYNAMIC_CONFIG } from './dynamic-config.js';
import { CLUSTER_DEFAULTS, TLS_FILES } from './defaults.js';
import { ClusterConfigError, ClusterInterruptedError, ClusterStartError, isAppError } from '../errors.js';
import { redactSecrets } from '../logging/secrets.js';
import { maskUrlPassword, registerUrlPassword } from '../logging/url-credentials.js';

export interface ClusterUpOptions {
  /**
   * `postgres://user:password@host:port/database`; the database (default `temporal`) holds persistence.
   * The password reaches the server through its 0600 config file and the SQL tool through its
   * environment, never a command line.
   */
  databaseUrl: string;
  /** What messages call the database URL. @default --database-url */
  databaseUrlSource?: string;
  /** Directory for the config files and the server's log (created when missing). */
  stateDir: string;
  /** Frontend gRPC port. @default CLUSTER_DEFAULTS.port */
  port?: number;
  /**
   * Interface the frontend listens on (the other services always listen on 127.0.0.1). Anything but a
   * loopback address needs `tlsDir`. @default CLUSTER_DEFAULTS.ip
   */
  ip?: string;
  /**
   * mTLS on the frontend: the directory holds `ca.pem`, `server.pem` and `server-key.pem`, and optionally
   * `client.pem` / `client-key.pem` for the ready check (without them the server's certificate is used as
   * the client's, so it must allow clientAuth; the server's own system worker uses it too).
   */
  tlsDir?: string;
  /** History shards; fixed when the database is first set up (a later value is ignored by the server). @default CLUSTER_DEFAULTS.historyShards */
  historyShards?: number;
  /** How long to wait for the frontend to answer, in ms. @default CLUSTER_DEFAULTS.startTimeoutMs */
  startTimeoutMs?: number;
  /** Aborts the start (SIGTERM before the server is ready): the server is stopped, no process is left. */
  signal?: AbortSignal;
  /** Receives one line per step (schema set-up, config written). */
  onProgress?: (line: string) => void;
}

/** What one schema needed: `set up` from nothing, `migrated` from an older version, or `current`. */
export interface SchemaOutcome {
  database: string;
  action: 'set up' | 'migrated' | 'current';
  from: string | undefined;
  version: string;
}

export interface RunningCluster {
  /** `host:port` a client on this host connects to. */
  address: string;
  /** TLS settings a client needs (undefined without `tlsDir`). */
  tls: TLSConfig | undefined;
  configFile: string;
  logFile: string;
  pid: number;
  schemas: SchemaOutcome[];
  /** Milliseconds spent on databases and schemas, and from spawning the server until it answered. */
  timings: { schemaMs: number; startMs: number };
  /** Settles when the server process exits, whoever stopped it. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The last lines of the server's log (for an unexpected exit). */
  logTail(lines?: number): Promise<string>;
  /**
   * SIGTERM, then SIGKILL after `graceMs` (default 60 s: the server takes 3–15 s, about 2 s per system
   * worker whose ShutdownWorker call times out); resolves once the process is gone.
   */
  stop(graceMs?: number): Promise<void>;
}

interface PgTarget {
  /** What messages call the URL: `--database-url`, `SCRAPEFLOW_CLUSTER_DATABASE_URL`, a file. */
  source: string;
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
}

/** Parses the database URL; the errors name the option and never show the password. */
export function parseDatabaseUrl(value: string, source = '--database-url'): PgTarget {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ClusterConfigError(`${source} is not a URL (got ${JSON.stringify(maskUrlPassword(value))})`);
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:')
    throw new ClusterConfigError(`${source} must be a postgres:// URL (got ${url.protocol}//…)`);
  const sslmode = url.searchParams.get('sslmode');
  if (sslmode && sslmode !== 'disable')
    throw new ClusterConfigError(
      `${source}: sslmode=${sslmode} is not supported by cluster up (a plain connection only)`,
    );
  const database = decodeURIComponent(url.pathname.replace(/^\//, '')) || CLUSTER_DEFAULTS.database;
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(database))
    throw new ClusterConfigError(
      `${source}: the database name must be letters, digits and _ (got ${JSON.stringify(database)})`,
    );
  return {
    source,
    host: url.hostname || '127.0.0.1',
    port: Number(url.port || 5432),
    user: decodeURIComponent(url.username) || 'postgres',
    password: decodeURIComponent(url.password),
    database,
  };
}

/** Where `cluster up` may take its database URL from; exactly one of them. */
export interface DatabaseUrlSources {
  /** `--database-url`: argv, which `ps` shows to every user, so only a URL without a password. */
  flag?: string | undefined;
  /** `--database-url-file`: a file holding the URL (surrounding whitespace ignored). */
  file?: string | undefined;
  /** SCRAPEFLOW_CLUSTER_DATABASE_URL. */
  env?: string | undefined;
}

/** The database URL and the name messages give its source; never a password taken from argv. */
export async function clusterDatabaseUrl(from: DatabaseUrlSources): Promise<{ url: string; source: string }> {
  const given = [from.flag, from.file, from.env].filter((v) => v !== undefined);
  if (given.length !== 1)
    throw new ClusterConfigError(
      `${given.length ? 'more than one' : 'no'} database URL: set SCRAPEFLOW_CLUSTER_DATABASE_URL, or give ` +
        '--database-url-file <file> (or --database-url for a URL without a password), one of them',
    );
  if (from.flag !== undefined) {
    if (parseDatabaseUrl(from.flag).password)
      throw new ClusterConfigError(
        `--database-url ${maskUrlPassword(from.flag)} carries a password, which the process list shows to ` +
          'every user of this host: put the URL in SCRAPEFLOW_CLUSTER_DATABASE_URL or in a file named by --database-url-file',
      );
    return { url: from.flag, source: '--database-url' };
  }
  if (from.env !== undefined) return { url: from.env, source: 'SCRAPEFLOW_CLUSTER_DATABASE_URL' };
  const file = from.file as string;
  try {
    return { url: (await readFile(file, 'utf8')).trim(), source: `--database-url-file ${file}` };
  } catch (err) {
    throw new ClusterConfigError(
      `--database-url-file ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
    );
  }
}

/** 127.0.0.0/8, ::1 and `localhost`: addresses only this host reaches. */
export function isLoopback(ip: string): boolean {
  return ip === 'localhost' || ip === '::1' || /^127(\.\d{1,3}){3}$/.test(ip);
}

/**
 * Refuses a frontend that other hosts reach without mTLS: the server runs `--allow-no-auth`, so anyone
 * who reaches the port could read every history and start or terminate workflows.
 */
export function checkListenAddress(ip: string, tlsDir: string | undefined): void {
  if (tlsDir || isLoopback(ip)) return;
  throw new ClusterConfigError(
    `--ip ${ip} without --tls would open Temporal to the network with no authentication (anyone who reaches ` +
      'the port reads histories and starts or terminates workflows): add --tls <dir> (mTLS certificates), ' +
      'or keep the default --ip 127.0.0.1',
  );
}

interface TlsFiles {
  /** The name clients on this host check the server's certificate against (see `certificateName`). */
  serverName: string;
  ca: string;
  cert: string;
  key: string;
  clientCert: string;
  clientKey: string;
}

function tlsFiles(dir: string): TlsFiles {
  const abs = resolve(dir);
  const path = (name: string) => join(abs, name);
  for (const name of [TLS_FILES.ca, TLS_FILES.cert, TLS_FILES.key])
    if (!existsSync(path(name)))
      throw new ClusterConfigError(
        `--tls ${dir}: no ${name} (the directory must hold ${TLS_FILES.ca}, ${TLS_FILES.cert} and ${TLS_FILES.key})`,
      );
  const ownClient = existsSync(path(TLS_FILES.clientCert)) && existsSync(path(TLS_FILES.clientKey));
  return {
    serverName: certificateName(path(TLS_FILES.cert), dir),
    ca: path(TLS_FILES.ca),
    cert: path(TLS_FILES.cert),
    key: path(TLS_FILES.key),
    clientCert: path(ownClient ? TLS_FILES.clientCert : TLS_FILES.cert),
    clientKey: path(ownClient ? TLS_FILES.clientKey : TLS_FILES.key),
  };
}

/**
 * The name the server's own system worker (and the ready check) verify the frontend's certificate
 * against when they dial 127.0.0.1: `localhost` when the certificate names it, else its first DNS name,
 * else 127.0.0.1 when it has that IP, else its CN. Go's TLS client refuses to dial without a name ("either
 * ServerName or InsecureSkipVerify must be specified").
 */
function certificateName(certFile: string, dir: string): string {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(readFileSync(certFile));
  } catch (err) {
    throw new ClusterConfigError(
      `--tls ${dir}: ${TLS_FILES.cert} is not a PEM certificate (${err instanceof Error ? err.message : String(err)})`,
    );
  }
  const names = (cert.subjectAltName ?? '').split(/,\s*/).filter(Boolean);
  const dns = names.filter((n) => n.startsWith('DNS:')).map((n) => n.slice(4));
  if (dns.includes('localhost')) return 'localhost';
  if (dns[0]) return dns[0];
  if (names.includes('IP Address:127.0.0.1')) return '127.0.0.1';
  const cn = /(?:^|\n)CN=([^\n]+)/.exec(cert.subject)?.[1];
  if (!cn) throw new ClusterConfigError(`--tls ${dir}: ${TLS_FILES.cert} names no host (no SAN, no CN)`);
  return cn;
}

// --- databases and schemas ---------------------------------------------------------------------------

/** `v1.19` → [1, 19]. */
const versionOf = (name: string) => name.replace(/^v/, '').split('.').map(Number);
const compareVersions = (a: string, b: string) => {
  const [x, y] = [versionOf(a), versionOf(b)];
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d) return d;
  }
  return 0;
};

/** The newest version a `versioned` schema directory migrates to (`1.19` for `v1.19`). */
async function latestVersion(versionedDir: string): Promise<string> {
  const versions = (await readdir(versionedDir)).filter((n) => /^v\d+\.\d+$/.test(n)).sort(compareVersions);
  const last = versions.at(-1);
  if (!last) throw new ClusterStartError(`no v<major>.<minor> directories in ${versionedDir}`);
  return last.slice(1);
}

async function withPg<T>(target: PgTarget, database: string, work: (c: pg.Client) => Promise<T>) {
  const { host, port, user, password } = target;
  const client = new pg.Client({ host, port, user, password, database, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
  } catch (err) {
    throw new ClusterStartError(
      `${target.source}: cannot connect to PostgreSQL at ${target.host}:${target.port} as ${target.user} (database ${database}): ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** Creates `database` unless it exists; true when it was created. */
async function ensureDatabase(target: PgTarget, database: string): Promise<boolean> {
  return withPg(target, 'postgres', async (client) => {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (found.rowCount) return false;
    try {
      await client.query(`CREATE DATABASE "${database}"`);
    } catch (err) {
      // Another `cluster up` on the same database created it meanwhile.
      if ((err as { code?: string }).code !== '42P04') throw err;
    }
    return true;
  });
}

/** The schema version `temporal-sql-tool` recorded in `database`, or undefined before any set-up. */
async function schemaVersion(target: PgTarget, database: string): Promise<string | undefined> {
  return withPg(target, database, async (client) => {
    const table = await client.query<{ t: string | null }>("SELECT to_regclass('schema_version') AS t");
    if (!table.rows[0]?.t) return undefined;
    const row = await client.query<{ curr_version: string }>(
      'SELECT curr_version FROM schema_version WHERE db_name = $1',
      [database],
    );
    const version = row.rows[0]?.curr_version;
    return version && version !== '0.0' ? version : undefined;
  });
}

/** The environment of the processes started here, without the variable that holds the database URL. */
function childEnv(): NodeJS.ProcessEnv {
  const { SCRAPEFLOW_CLUSTER_DATABASE_URL: _url, ...env } = process.env;
  return env;
}

async function runTool(tool: string, target: PgTarget, database: string, args: string[]): Promise<void> {
  const child = spawn(
    tool,
    [
      '--plugin',
      'postgres12',
      '--endpoint',
      target.host,
      '--port',
      String(target.port),
      '--user',
      target.user,
      '--database',
      database,
      ...args,
    ],
    // The password goes through the environment, not the command line `ps` shows.
    { env: { ...childEnv(), SQL_PASSWORD: target.password }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  const [code] = (await once(child, 'close')) as [number | null];
  if (code !== 0)
    throw new ClusterStartError(
      `temporal-sql-tool ${args[0]} on database ${database} failed (exit ${code}):\n${redactSecrets(output.trim().split('\n').slice(-15).join('\n'))}`,
    );
}

/** Brings one database to the newest schema of `versionedDir`: set up from nothing, migrated, or left. */
async function migrate(
  tool: string,
  target: PgTarget,
  database: string,
  versionedDir: string,
): Promise<SchemaOutcome> {
  const latest = await latestVersion(versionedDir);
  const from = await schemaVersion(target, database);
  if (from && compareVersions(from, latest) >= 0) return { database, action: 'current', from, version: from };
  if (!from) await runTool(tool, target, database, ['setup-schema', '--version', '0.0']);
  await runTool(tool, target, database, ['update-schema', '--schema-dir', versionedDir]);
  return { database, action: from ? 'migrated' : 'set up', from, version: latest };
}

// --- config files ------------------------------------------------------------------------------------

type Yaml = string | number | boolean | Yaml[] | { [key: string]: Yaml | undefined };

/** YAML for plain data: block mappings and sequences, scalars as JSON (a subset YAML reads). */
export function toYaml(value: Yaml, indent = ''): string {
  if (Array.isArray(value))
    return value
      .map((item) => {
        const body = typeof item === 'object' ? toYaml(item, `${indent}  `).trim() : JSON.stringify(item);
        return `${indent}- ${body}\n`;
      })
      .join('');
  if (typeof value === 'object')
    return Object.entries(value)
      .filter((entry): entry is [string, Yaml] => entry[1] !== undefined)
      .map(([key, item]) =>
        typeof item === 'object'
          ? `${indent}${key}:\n${toYaml(item, `${indent}  `)}`
          : `${indent}${key}: ${JSON.stringify(item)}\n`,
      )
      .join('');
  return `${indent}${JSON.stringify(value)}\n`;
}

/**
 * Dynamic config of every `cluster up` server. Priority and fairness in matching (the new matcher is
 * already the default on 1.31; fairness is not). Worker deployments (versioning v3) are on by default on
 * 1.31, pinned here so an upgrade does not turn them off unseen. Ids are capped at 255 characters, the
 * width of SQL visibility's columns: a longer one would be accepted and then fail every visibility write.
 * One partition per task queue, as on the dev server: a single matching host gains nothing from more.
 */
export const CLUSTER_DYNAMIC_CONFIG: Readonly<Record<string, Yaml>> = {
  'matching.useNewMatcher': true,
  'matching.enableFairness': true,
  'system.enableDeploymentVersions': true,
  'frontend.workerVersioningWorkflowAPIs': true,
  'limit.maxIDLength': 255,
  ...BASE_DYNAMIC_CONFIG,
};

interface ServerConfigInput {
  target: PgTarget;
  visibilityDatabase: string;
  port: number;
  ip: string;
  internalPorts: number[];
  historyShards: number;
  dynamicConfigFile: string;
  tls: TlsFiles | undefined;
}

/** The server's config, after the module's `config/development-postgres12.yaml`. */
function serverConfig(input: ServerConfigInput): Yaml {
  const { target, tls } = input;
  const sql = (databaseName: string, maxConns: number): Yaml => ({
    sql: {
      pluginName: 'postgres12',
      databaseName,
      connectAddr: `${target.host}:${target.port}`,
      connectProtocol: 'tcp',
      user: target.user,
      password: target.password,
      maxConns,
      maxIdleConns: maxConns,
      maxConnLifetime: '1h',
    },
  });
  const [history, matching, worker, ...membership] = input.internalPorts as [
    number,
    number,
    number,
    ...number[],
  ];
  const rpc = (grpcPort: number, membershipPort: number | undefined, bindOnIP = '127.0.0.1'): Yaml => ({
    rpc: { grpcPort, membershipPort: membershipPort ?? 0, bindOnIP },
  });
  // The system worker (inside this process) connects to the frontend like any client, so under mTLS it
  // presents the server's certificate, and checks the frontend's against the same CA.
  const clientTls = tls ? { serverName: tls.serverName, rootCaFiles: [tls.ca] } : undefined;
  return {
    log: { stdout: true, level: 'info' },
    persistence: {
      defaultStore: 'postgres-default',
      visibilityStore: 'postgres-visibility',
      numHistoryShards: input.historyShards,
      datastores: {
        'postgres-default': sql(target.database, 20),
        'postgres-visibility': sql(input.visibilityDatabase, 10),
      },
    },
    global: {
      membership: { maxJoinDuration: '30s', broadcastAddress: '127.0.0.1' },
      tls: tls
        ? {
            frontend: {
              server: {
                certFile: tls.cert,
                keyFile: tls.key,
                clientCaFiles: [tls.ca],
                requireClientAuth: true,
              },
              client: clientTls,
            },
            systemWorker: { certFile: tls.cert, keyFile: tls.key, client: clientTls },
          }
        : undefined,
    },
    services: {
      frontend: rpc(input.port, membership[0], input.ip),
      history: rpc(history, membership[1]),
      matching: rpc(matching, membership[2]),
      worker: rpc(worker, membership[3]),
    },
    clusterMetadata: {
      enableGlobalNamespace: false,
      failoverVersionIncrement: 10,
      masterClusterName: 'active',
      currentClusterName: 'active',
      clusterInformation: {
        active: {
          enabled: true,
          initialFailoverVersion: 1,
          rpcName: 'frontend',
          rpcAddress: `127.0.0.1:${input.port}`,
        },
      },
    },
    dcRedirectionPolicy: { policy: 'noop' },
    dynamicConfigClient: { filepath: input.dynamicConfigFile, pollInterval: '10s' },
  };
}

// --- the server process ------------------------------------------------------------------------------

/**
 * The last `lines` lines of the server's log, each JSON entry cut to its level, message and error (the
 * stack traces and call sites would bury them).
 */
async function tail(file: string, lines = 30): Promise<string> {
  const text = redactSecrets(await readFile(file, 'utf8').catch(() => ''));
  return text
    .trimEnd()
    .split('\n')
    .slice(-lines)
    .map((line) => {
      try {
        const entry = JSON.parse(line) as { level?: string; msg?: string; error?: string };
        return `  ${entry.level ?? '?'}: ${entry.msg ?? ''}${entry.error ? ` (${entry.error})` : ''}`;
      } catch {
        return `  ${line}`;
      }
    })
    .join('\n');
}

async function clientTlsConfig(tls: TlsFiles): Promise<TLSConfig> {
  const [ca, crt, key] = await Promise.all([
    readFile(tls.ca),
    readFile(tls.clientCert),
    readFile(tls.clientKey),
  ]);
  return { serverRootCACertificate: ca, clientCertPair: { crt, key }, serverNameOverride: tls.serverName };
}

/**
 * Polls the frontend (bounded by `timeoutMs`) until a client connects (the SDK's connect calls
 * GetSystemInfo), its health check says SERVING and it lists namespaces (a persistence read).
 */
async function waitUntilServing(
  address: string,
  tls: TLSConfig | undefined,
  timeoutMs: number,
  gone: () => boolean,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline && !gone()) {
    try {
      const connection = await Connection.connect({ address, tls, connectTimeout: 2000 });
      try {
        const health = await connection.healthService.check({
          service: 'temporal.api.workflowservice.v1.WorkflowService',
        });
        if (health.status === proto.grpc.health.v1.HealthCheckResponse.ServingStatus.SERVING) {
          await connection.workflowService.listNamespaces({ pageSize: 1 });
          return;
        }
        lastError = new Error(`health check status ${health.status}`);
      } finally {
        await connection.close();
      }
    } catch (err) {
      lastError = err;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  if (gone()) return;
  throw new ClusterStartError(
    `the Temporal server at ${address} did not answer within ${timeoutMs} ms: ${lastError instanceof Error ? lastError.message : String(lastError)}`,
  );
}

/**
 * A free TCP port on 127.0.0.1 from 10000 to 32767. PostgreSQL persistence keeps each membership port
 * in a SMALLINT column (`cluster_membership.rpc_port`): a port from the kernel's ephemeral range (32768
 * and up) makes the server exit at start-up with "out of range for type smallint".
 */
async function freeLowPort(): Promise<number> {
  for (let tries = 0; tries < 100; tries++) {
    const port = 10_000 + Math.floor(Math.random() * (32_768 - 10_000));
    const probe = createServer();
    try {
      probe.listen(port, '127.0.0.1');
      await once(probe, 'listening');
      return port;
    } catch {
      // taken: try another
    } finally {
      probe.close();
    }
  }
  throw new ClusterStartError('no free port from 10000 to 32767 on 127.0.0.1 after 100 tries');
}

/** Databases, schemas, config, then the server; resolves once the frontend answers. */
export async function clusterUp(options: ClusterUpOptions): Promise<RunningCluster> {
  const progress = options.onProgress ?? (() => {});
  registerUrlPassword(options.databaseUrl);
  const target = parseDatabaseUrl(options.databaseUrl, options.databaseUrlSource);
  const port = options.port ?? CLUSTER_DEFAULTS.port;
  const ip = options.ip ?? CLUSTER_DEFAULTS.ip;
  checkListenAddress(ip, options.tlsDir);
  const tls = options.tlsDir ? tlsFiles(options.tlsDir) : undefined;
  let server: string, tool: string, schemaDir: string;
  try {
    [server, tool, schemaDir] = [findTemporalServer(), findTemporalSqlTool(), findTemporalSchemaDir()];
  } catch (err) {
    throw new ClusterStartError(err instanceof Error ? err.message : String(err));
  }
  const stateDir = resolve(options.stateDir);
  // Private: the server's config file holds the database password.
  await mkdir(stateDir, { recursive: true, mode: 0o700 });

  const schemaStarted = Date.now();
  const visibilityDatabase = `${target.database}_visibility`;
  const schemas: SchemaOutcome[] = [];
  for (const [database, kind] of [
    [target.database, 'temporal'],
    [visibilityDatabase, 'visibility'],
  ] as const) {
    if (await ensureDatabase(target, database)) progress(`created database ${database}`);
    const outcome = await migrate(tool, target, database, join(schemaDir, kind, 'versioned'));
    schemas.push(outcome);
    progress(
      outcome.action === 'current'
        ? `schema of ${database}: v${outcome.version}, current`
        : `schema of ${database}: ${outcome.action} ${outcome.from ? `v${outcome.from} → ` : ''}v${outcome.version}`,
    );
  }
  const schemaMs = Date.now() - schemaStarted;
  if (options.signal?.aborted) throw new ClusterInterruptedError('interrupted before the server started');

  const dynamicConfigFile = join(stateDir, 'dynamic-config.yaml');
  const configFile = join(stateDir, 'config.yaml');
  const logFile = join(stateDir, 'temporal-server.log');
  await writeFile(
    dynamicConfigFile,
    toYaml(Object.fromEntries(Object.entries(CLUSTER_DYNAMIC_CONFIG).map(([k, v]) => [k, [{ value: v }]]))),
  );
  const clientTls = tls ? await clientTlsConfig(tls) : undefined;
  const address = `${ip === '0.0.0.0' || ip === '::' ? '127.0.0.1' : ip}:${port}`;

  // A free port can be taken before the server binds it: a bind failure is retried on new ones.
  for (let tries = 1; ; tries++) {
    const internalPorts: number[] = [];
    while (internalPorts.length < 7) {
      const p = await freeLowPort();
      if (p !== port && !internalPorts.includes(p)) internalPorts.push(p);
    }
    const config = serverConfig({
      target,
      visibilityDatabase,
      port,
      ip,
      internalPorts,
      historyShards: options.historyShards ?? CLUSTER_DEFAULTS.historyShards,
      dynamicConfigFile,
      tls,
    });
    await writeFile(
      configFile,
      `# Written by \`scrapeflow cluster up\` at each start (Temporal server ${TEMPORAL_SERVER_VERSION}).\n${toYaml(config)}`,
      { mode: 0o600 },
    );
    await chmod(configFile, 0o600); // a file an older start wrote keeps its mode through writeFile
    try {
      return await startServer({
        server,
        configFile,
        logFile,
        address,
        tls: clientTls,
        options,
        schemas,
        schemaMs,
      });
    } catch (err) {
      const taken = isAppError(err, 'cluster_start') && /address already in use/.test(err.message);
      const ownPortTaken = taken && err.message.includes(`:${port}:`);
      if (!taken || ownPortTaken || tries >= 3) throw err;
    }
  }
}

async function startServer(args: {
  server: string;
  configFile: string;
  logFile: string;
  address: string;
  tls: TLSConfig | undefined;
  options: ClusterUpOptions;
  schemas: SchemaOutcome[];
  schemaMs: number;
}): Promise<RunningCluster> {
  const { logFile, address } = args;
  // One log per start; the previous one is kept beside it.
  if (existsSync(logFile)) await rename(logFile, `${logFile}.1`);
  const log = await open(logFile, 'a');
  const started = Date.now();
  let child: ChildProcess;
  try {
    // No password on the command line: it is in the 0600 config file.
    child = spawn(args.server, ['--config-file', args.configFile, '--allow-no-auth', 'start'], {
      env: childEnv(),
      stdio: ['ignore', log.fd, log.fd],
    });
  } finally {
    await log.close();
  }
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolveExit) => {
    child.on('exit', (code, signal) => resolveExit((exit = { code, signal })));
  });
  const spawnError = new Promise<never>((_, reject) => child.on('error', reject));
  spawnError.catch(() => {});

  const stop = async (graceMs: number = CLUSTER_DEFAULTS.stopGraceMs) => {
    if (exit) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    try {
      await exited;
    } finally {
      clearTimeout(timer);
    }
  };
  try {
    await Promise.race([
      waitUntilServing(
        address,
        args.tls,
        args.options.startTimeoutMs ?? CLUSTER_DEFAULTS.startTimeoutMs,
        () => exit !== undefined || args.options.signal?.aborted === true,
      ),
      spawnError,
    ]);
  } catch (err) {
    await stop(5_000);
    if (isAppError(err, 'cluster_start'))
      throw new ClusterStartError(`${err.message}\nlast lines of ${logFile}:\n${await tail(logFile, 20)}`);
    throw err;
  }
  if (args.options.signal?.aborted) {
    await stop();
    throw new ClusterInterruptedError('interrupted during start-up; the server was stopped');
  }
  if (exit) {
    const { code, signal } = exit;
    throw new ClusterStartError(
      `the Temporal server exited during start-up (${signal ?? `exit ${code}`}); last lines of ${logFile}:\n${await tail(logFile, 20)}`,
    );
  }
  return {
    address,
    tls: args.tls,
    configFile: args.configFile,
    logFile,
    pid: child.pid ?? 0,
    schemas: args.schemas,
    timings: { schemaMs: args.schemaMs, startMs: Date.now() - started },
    exited,
    logTail: (lines) => tail(logFile, lines),
    stop,
  };
}

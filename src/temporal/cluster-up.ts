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
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import {
  findTemporalSchemaDir,
  findTemporalServer,
  findTemporalSqlTool,
  TEMPORAL_SERVER_VERSION,
} from '../config/binaries.js';
import { CLUSTER_DEFAULTS } from './defaults.js';
import { ClusterInterruptedError, ClusterStartError, isAppError } from '../errors.js';
import { registerUrlPassword } from '../logging/url-credentials.js';
import type { ClusterUpOptions, RunningCluster, SchemaOutcome } from './cluster/types.js';
import { clusterDatabaseUrl, ensureDatabase, migrate, parseDatabaseUrl } from './cluster/database.js';
import { checkListenAddress, clientTlsConfig, tlsFiles } from './cluster/tls.js';
import { CLUSTER_DYNAMIC_CONFIG, serverConfig, toYaml } from './cluster/server-config.js';
import { freeLowPort, startServer } from './cluster/process.js';

// The command's module (src/cli/commands/cluster.ts) imports these from here with clusterUp.
export type { ClusterUpOptions, RunningCluster, SchemaOutcome };
export { clusterDatabaseUrl };

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

/**
 * `scrapeflow cluster setup`: makes the configured Temporal namespace ready for scrapeflow (the
 * namespace, and every search attribute with its type), against any cluster, connected as every other
 * process is (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TLS, API key, profile: src/temporal/connection.ts).
 * Idempotent: a second run changes nothing and says so.
 *
 * `scrapeflow cluster up`: the real Temporal server on PostgreSQL on this host, in the foreground
 * (src/temporal/cluster-up.ts), until SIGINT / SIGTERM.
 */
import { join, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { loadConfig } from '../../config/env.js';
import { TEMPORAL_SERVER_VERSION } from '../../config/binaries.js';
import type { RunningCluster } from '../../temporal/cluster-up.js';
import { CLUSTER_DEFAULTS, DEFAULT_RETENTION_MS, TLS_FILES } from '../../temporal/defaults.js';
import { intOption, say } from '../context.js';
import { CliError, ExitCode } from '../exit.js';
import { untilSignal } from '../signals.js';
import { isAppError } from '../../errors.js';

const RETENTION_UNITS_MS = { h: 3_600_000, d: 86_400_000 } as const;

/** Parses `--retention` (`72h`, `7d`, `1.5d`) into milliseconds, or fails naming the flag. */
function parseRetention(value: string): number {
  const match = /^(\d+(?:\.\d+)?)([hd])$/.exec(value.trim());
  const ms = match ? Number(match[1]) * RETENTION_UNITS_MS[match[2] as 'h' | 'd'] : Number.NaN;
  if (!Number.isFinite(ms) || ms < 3_600_000)
    throw new CliError(
      `--retention must be a duration of at least 1h, in hours or days such as 24h or 7d (got ${JSON.stringify(value)})`,
      ExitCode.usage,
    );
  return ms;
}

export function registerCluster(program: Command): void {
  const cluster = program
    .command('cluster')
    .description('run a Temporal cluster on PostgreSQL, and prepare any cluster for scrapeflow');
  registerClusterUp(cluster);
  cluster
    .command('setup')
    .description(
      "create the namespace (TEMPORAL_NAMESPACE) when missing and register scrapeflow's search attributes; " +
        'exit 3 when an attribute exists with another type',
    )
    .addOption(
      new Option(
        '--retention <duration>',
        'how long a namespace created here keeps closed workflows (an existing one is left as it is)',
      )
        .argParser(parseRetention)
        .default(DEFAULT_RETENTION_MS, `${DEFAULT_RETENTION_MS / 3_600_000}h`),
    )
    .action(async ({ retention }: { retention: number }) => {
      const [
        { connectClient },
        { resolveTemporalConnection },
        { setUpNamespace },
        { ALL_SEARCH_ATTRIBUTES },
      ] = await Promise.all([
        import('../../client/temporal.js'),
        import('../../temporal/connection.js'),
        import('../../temporal/setup.js'),
        import('../../temporal/search-attributes.js'),
      ]);
      const config = loadConfig();
      const connection = resolveTemporalConnection(config);
      const client = await connectClient(config, { connection });
      try {
        const { namespace, address } = connection;
        const outcome = await setUpNamespace(client.connection, namespace, address, {
          retentionMs: retention,
        });
        if (outcome.createdNamespace)
          say(`created namespace ${JSON.stringify(namespace)} (retention ${retention / 3_600_000}h)`);
        if (outcome.registered.length) say(`registered search attributes: ${outcome.registered.join(', ')}`);
        if (!outcome.createdNamespace && !outcome.registered.length)
          say(
            `nothing to change: namespace ${JSON.stringify(namespace)} exists with all ${ALL_SEARCH_ATTRIBUTES.length} search attributes`,
          );
        else say(`namespace ${JSON.stringify(namespace)} at ${address} is set up for scrapeflow`);
      } finally {
        await client.connection.close();
      }
    });
}

interface UpFlags {
  databaseUrl?: string;
  databaseUrlFile?: string;
  port: number;
  ip: string;
  tls?: string;
  dir?: string;
  historyShards: number;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** What to type next, in another shell: the address (and the TLS files) and `cluster setup`. */
function nextStep(up: RunningCluster, tlsDir: string | undefined): string {
  let env = `TEMPORAL_ADDRESS=${up.address}`;
  if (tlsDir) {
    const dir = resolve(tlsDir);
    env +=
      ` TEMPORAL_TLS_SERVER_CA_CERT_PATH=${join(dir, TLS_FILES.ca)}` +
      ` TEMPORAL_TLS_CLIENT_CERT_PATH=${join(dir, TLS_FILES.clientCert)}` +
      ` TEMPORAL_TLS_CLIENT_KEY_PATH=${join(dir, TLS_FILES.clientKey)}` +
      (up.tls?.serverNameOverride ? ` TEMPORAL_TLS_SERVER_NAME=${up.tls.serverNameOverride}` : '');
  }
  return `${env} scrapeflow cluster setup`;
}

function registerClusterUp(cluster: Command): void {
  cluster
    .command('up')
    .description(
      `run the Temporal server ${TEMPORAL_SERVER_VERSION} on PostgreSQL (SQL visibility) in the foreground: ` +
        'creates the databases and schemas when missing, migrates them, stops on SIGINT / SIGTERM',
    )
    .option(
      '--database-url <url>',
      'postgres://user@host:port/db without a password (argv is public; else SCRAPEFLOW_CLUSTER_DATABASE_URL ' +
        `or --database-url-file); db (default ${CLUSTER_DEFAULTS.database}) holds persistence, db_visibility visibility`,
    )
    .option('--database-url-file <file>', 'a file holding the database URL, password included (keep it 0600)')
    .option('--port <port>', 'frontend gRPC port', intOption('--port', 1, 65_535), CLUSTER_DEFAULTS.port)
    .option(
      '--ip <address>',
      'interface the frontend listens on (the internal services stay on 127.0.0.1); not loopback: needs --tls',
      CLUSTER_DEFAULTS.ip,
    )
    .option(
      '--tls <dir>',
      `mTLS on the frontend: <dir> holds ${TLS_FILES.ca}, ${TLS_FILES.cert}, ${TLS_FILES.key} ` +
        `(and ${TLS_FILES.clientCert}, ${TLS_FILES.clientKey} for the ready check; else the server's certificate)`,
    )
    .option(
      '--dir <dir>',
      "the server's config files and log (default: $SCRAPEFLOW_DATA_DIR/temporal-cluster-<port>)",
    )
    .option(
      '--history-shards <n>',
      'history shards, fixed when the database is first set up',
      intOption('--history-shards', 1, 16_384),
      CLUSTER_DEFAULTS.historyShards,
    )
    .addHelpText(
      'after',
      `
The frontend listens on --port; the other services' gRPC and membership ports are free ones picked at
each start on 127.0.0.1 (named in <dir>/config.yaml), so the cluster never collides with a dev server
or another cluster. The server's log goes to <dir>/temporal-server.log (the previous start's to .1).
Needs \`bash scripts/setup.sh --cluster\` once (builds temporal-server and temporal-sql-tool).`,
    )
    .action(async (flags: UpFlags) => {
      // Signals are handled from the start: one during start-up stops the server, as one later does.
      const abort = new AbortController();
      const signalled = untilSignal().then((signal) => {
        abort.abort();
        return signal;
      });
      let up: RunningCluster;
      try {
        const stateDir =
          flags.dir ?? join(loadConfig().SCRAPEFLOW_DATA_DIR, `temporal-cluster-${flags.port}`);
        const { clusterDatabaseUrl, clusterUp } = await import('../../temporal/cluster-up.js');
        const database = await clusterDatabaseUrl({
          flag: flags.databaseUrl,
          file: flags.databaseUrlFile,
          env: loadConfig().SCRAPEFLOW_CLUSTER_DATABASE_URL,
        });
        up = await clusterUp({
          databaseUrl: database.url,
          databaseUrlSource: database.source,
          stateDir,
          port: flags.port,
          ip: flags.ip,
          historyShards: flags.historyShards,
          ...(flags.tls ? { tlsDir: flags.tls } : {}),
          signal: abort.signal,
          onProgress: say,
        });
      } catch (err) {
        if (!isAppError(err, 'cluster_interrupted')) throw err;
        say(`${await signalled}: ${err.message}`);
        return;
      }
      const { resolveTemporalConnection } = await import('../../temporal/connection.js');
      say(`config: ${up.configFile}   log: ${up.logFile}   server pid: ${up.pid}`);
      say(
        `ready: Temporal server ${TEMPORAL_SERVER_VERSION} at ${up.address}${up.tls ? ' (mTLS)' : ''} in ` +
          `${seconds(up.timings.startMs)} (schemas ${seconds(up.timings.schemaMs)}); ` +
          `next, in another shell: ${nextStep(up, flags.tls)}  (creates namespace ${JSON.stringify(resolveTemporalConnection(loadConfig()).namespace)})`,
      );
      const outcome = await Promise.race([
        signalled.then((signal) => ({ signal })),
        up.exited.then((exit) => ({ exit })),
      ]);
      if ('signal' in outcome) {
        say(`${outcome.signal}: stopping the Temporal server`);
        await up.stop();
        say('stopped');
        return;
      }
      const { code, signal } = outcome.exit;
      throw new CliError(
        `the Temporal server exited by itself (${signal ?? `exit ${code}`}); last lines of ${up.logFile}:\n${await up.logTail(20)}`,
        ExitCode.failure,
      );
    });
}

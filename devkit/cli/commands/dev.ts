import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import type { EmbeddedStack } from '../../stack/stack.js';
import { DEFAULT_PORTS } from '../../stack/ports.js';
import { intOption, say } from '../../../src/cli/context.js';
import { untilSignal } from '../../../src/cli/signals.js';
import { maskUrlPassword } from '../../../src/logging/url-credentials.js';

export interface StackFlags {
  temporalPort: number;
  uiPort: number;
  servicePort: number;
  apiPort: number;
  demoPort: number;
  dataDir?: string;
  faults?: string;
  balance?: number;
  verbose?: boolean;
}

/** Port flags shared by `dev` and `demo`. */
export function addStackFlags(
  command: Command,
  defaults: typeof DEFAULT_PORTS | Record<keyof typeof DEFAULT_PORTS, number>,
) {
  const port = (name: string) => intOption(name, 0, 65_535);
  return command
    .option(
      '--temporal-port <port>',
      'Temporal frontend (gRPC) port; 0 = any free port',
      port('--temporal-port'),
      defaults.temporal,
    )
    .option('--ui-port <port>', 'Temporal Web UI port', port('--ui-port'), defaults.ui)
    .option('--service-port <port>', 'scrapeflow HTTP service port', port('--service-port'), defaults.service)
    .option('--api-port <port>', 'local OmniScrape API port', port('--api-port'), defaults.api)
    .option('--demo-port <port>', 'demo site port', port('--demo-port'), defaults.demo)
    .option(
      '--data-dir <dir>',
      "keep Temporal's database and the result store here across restarts (default: temporary)",
    )
    .option('--faults <file.json>', 'fault rules for the local API (JSON array; see the local-api docs)')
    .option(
      '--balance <credits>',
      'credits of the local account (default 100000)',
      intOption('--balance', 0, 1e12),
    )
    .option('--verbose', 'print the JSON logs of every component on stdout (default: a log file)');
}

/** Starts the stack with its logs in `<data dir>/scrapeflow.log` unless --verbose. */
export async function startStackFromFlags(
  flags: StackFlags,
  ports: Record<keyof typeof DEFAULT_PORTS, number>,
) {
  const logFile = flags.verbose
    ? undefined
    : flags.dataDir
      ? join(flags.dataDir, 'scrapeflow.log')
      : join(tmpdir(), 'scrapeflow-dev.log');
  const [{ pino }, { createLogger }, { startEmbeddedStack }] = await Promise.all([
    import('pino'),
    import('../../../src/logging/logger.js'),
    import('../../stack/stack.js'),
  ]);
  const logger = createLogger({
    name: 'dev',
    ...(logFile ? { destination: pino.destination({ dest: logFile, mkdir: true, sync: false }) } : {}),
  });
  const stack = await startEmbeddedStack({
    ports,
    logger,
    ...(flags.dataDir ? { dataDir: flags.dataDir } : {}),
    ...(flags.faults ? { faultsFile: flags.faults } : {}),
    ...(flags.balance !== undefined ? { balance: flags.balance } : {}),
  });
  return { stack, logFile };
}

/** A value as one single-quoted shell word. */
const shellWord = (value: string) => `'${value.replaceAll("'", "'\\''")}'`;

/**
 * The `export` line that points a CLI in another shell at this stack: its Temporal address and its
 * store (the PostgreSQL URL, password masked, or the filesystem store's directory), so that the CLI's
 * store id is the workers' and its batches are not refused as written to another store.
 */
export function cliEnvLine(stack: EmbeddedStack): string {
  const databaseUrl = stack.config.SCRAPEFLOW_DATABASE_URL;
  let store = `SCRAPEFLOW_DATA_DIR=${shellWord(stack.config.SCRAPEFLOW_DATA_DIR)}`;
  if (databaseUrl) {
    const shown = maskUrlPassword(databaseUrl);
    const masked = shown !== databaseUrl;
    store = `SCRAPEFLOW_DATABASE_URL=${shellWord(shown)}${masked ? '   (put the password back in)' : ''}`;
  }
  return `export TEMPORAL_ADDRESS=${stack.temporalAddress} ${store}`;
}

export function printAddresses(stack: EmbeddedStack, logFile: string | undefined): void {
  say(`Temporal frontend  ${stack.temporalAddress}   (TEMPORAL_ADDRESS)`);
  say(`Temporal Web UI    ${stack.uiUrl ?? '(not served)'}`);
  say(`HTTP service       ${stack.serviceUrl}   (token: ${stack.apiToken})`);
  say(`local OmniScrape   ${stack.apiUrl}   (a local account; the workers hold its key)`);
  say(`demo site          ${stack.demoOrigin}`);
  say(`workers            workflows, scrape and browser (in this process)`);
  say(`store              ${stack.store.id}`);
  say(`data               ${stack.dataDir}${logFile ? `   logs: ${logFile}` : ''}`);
}

/** `scrapeflow dev`: the whole stack in one command, until Ctrl-C / SIGTERM. */
export function registerDev(program: Command): void {
  addStackFlags(
    program
      .command('dev')
      .description(
        'run the whole stack locally: Temporal + Web UI, local OmniScrape API, demo site, workers, HTTP service',
      ),
    DEFAULT_PORTS,
  )
    .addHelpText(
      'after',
      `
In another terminal, point the CLI at it:
  export TEMPORAL_ADDRESS=127.0.0.1:7233 SCRAPEFLOW_DATA_DIR=<data dir>/store
  scrapeflow start urls.txt --wait
With SCRAPEFLOW_DATABASE_URL set, dev's workers and service use that PostgreSQL store, and the export
line it prints names it instead of SCRAPEFLOW_DATA_DIR.`,
    )
    .action(async (flags: StackFlags) => {
      const { stack, logFile } = await startStackFromFlags(flags, {
        temporal: flags.temporalPort,
        ui: flags.uiPort,
        service: flags.servicePort,
        api: flags.apiPort,
        demo: flags.demoPort,
      });
      try {
        printAddresses(stack, logFile);
        say(`use it from another terminal: ${cliEnvLine(stack)}`);
        say('ready; Ctrl-C stops everything');
        const signal = await untilSignal();
        say(`${signal}: stopping`);
      } finally {
        await stack.stop();
        say('stopped');
      }
    });
}

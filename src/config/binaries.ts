/**
 * Finds the external binaries scrapeflow drives: the Temporal CLI, Chromium, and the Temporal server and
 * its SQL tool for `scrapeflow cluster up`. The search order is the same as scripts/setup.sh: explicit
 * override (TEMPORAL_CLI_PATH, CHROMIUM_PATH, … of the config, src/config/env.ts), PATH, then the setup
 * script's tool directory (for the cluster binaries, which are pinned to one server release, that
 * directory before PATH). Where the binaries are looked for (PATH, GOPATH, the tool directory) is the
 * machine's layout, as the setup script sees it, not a setting: it is read from the environment here.
 */
import { accessSync, constants, existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { loadConfig, type Config } from './env.js';

/** The overrides, each the path of one binary (or of the server's schemas). */
type Overrides = Pick<
  Config,
  | 'TEMPORAL_CLI_PATH'
  | 'CHROMIUM_PATH'
  | 'TEMPORAL_SERVER_PATH'
  | 'TEMPORAL_SQL_TOOL_PATH'
  | 'TEMPORAL_SCHEMA_DIR'
>;

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && isExecutable(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

export function toolsDir(): string {
  return (
    process.env.SCRAPEFLOW_TOOLS_DIR ??
    join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'scrapeflow', 'bin')
  );
}

/** The Temporal CLI, or undefined when none is installed (callers then fall back to the SDK download). */
export function findTemporalCli(
  config: Pick<Overrides, 'TEMPORAL_CLI_PATH'> = loadConfig(),
): string | undefined {
  const override = config.TEMPORAL_CLI_PATH;
  if (override) {
    if (!isExecutable(override)) throw new Error(`TEMPORAL_CLI_PATH=${override} is not an executable file`);
    return override;
  }
  const candidates = [
    onPath('temporal'),
    join(toolsDir(), 'temporal'),
    join(process.env.GOPATH ?? join(homedir(), 'go'), 'bin', 'temporal'),
  ];
  return candidates.find((c): c is string => c !== undefined && isExecutable(c));
}

/**
 * Where Chromium is looked for on PATH, best first. Everything that launches it (the local API's BaaS
 * sessions and renderer) runs headless, so the headless shell comes first: Playwright's own choice for
 * headless, the same engine, and under half the CPU of a full Chromium per session (4.3 → 1.8 s for an
 * interactive page, measured here), which browser sessions spend on every interactive URL.
 */
const CHROMIUM_NAMES = [
  'chromium-headless-shell',
  'chromium',
  'chromium-browser',
  'google-chrome',
  'google-chrome-stable',
] as const;

const DEBIAN_HEADLESS_SHELL = '/usr/lib/chromium/chromium-headless-shell';

/** Chromium's path; throws with what to do when none is installed. */
export function findChromium(config: Pick<Overrides, 'CHROMIUM_PATH'> = loadConfig()): string {
  const override = config.CHROMIUM_PATH;
  if (override) {
    if (!isExecutable(override)) throw new Error(`CHROMIUM_PATH=${override} is not an executable file`);
    return override;
  }
  // Debian's /usr/bin/chromium-headless-shell is a shell script that runs the browser as its child
  // (no `exec`): a signal to it would miss the browser, so its binary is taken directly.
  if (isExecutable(DEBIAN_HEADLESS_SHELL)) return DEBIAN_HEADLESS_SHELL;
  for (const name of CHROMIUM_NAMES) {
    const found = onPath(name);
    if (found) return found;
  }
  throw new Error(
    'no Chromium found: run `bash scripts/setup.sh` (Debian: apt-get install -y chromium-headless-shell) or set CHROMIUM_PATH',
  );
}

/**
 * Flags for a headless Chromium on a machine with a closed network: without the background-networking
 * flags Chromium keeps dialling Google's hosts.
 */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
  '--disable-dev-shm-usage',
];

/** The Temporal server release `scripts/setup.sh --cluster` builds and `scrapeflow cluster up` runs. */
export const TEMPORAL_SERVER_VERSION = 'v1.31.2';

const SETUP_CLUSTER = 'bash scripts/setup.sh --cluster';

/**
 * A cluster binary built by `scripts/setup.sh --cluster`: the env override when set, else the setup
 * script's tool directory, else PATH. Throws naming the setup command when there is none.
 */
function findClusterBinary(
  name: string,
  envVar: 'TEMPORAL_SERVER_PATH' | 'TEMPORAL_SQL_TOOL_PATH',
  config: Pick<Overrides, typeof envVar>,
): string {
  const override = config[envVar];
  if (override) {
    if (!isExecutable(override)) throw new Error(`${envVar}=${override} is not an executable file`);
    return override;
  }
  const found = [join(toolsDir(), name), onPath(name)].find(
    (c): c is string => c !== undefined && isExecutable(c),
  );
  if (!found)
    throw new Error(
      `no ${name} in ${toolsDir()} or on PATH: run \`${SETUP_CLUSTER}\` (builds it from the Temporal server's Go module) or set ${envVar}`,
    );
  return found;
}

/** `temporal-server`, the Temporal server itself (all services in one process). */
export const findTemporalServer = (config: Pick<Overrides, 'TEMPORAL_SERVER_PATH'> = loadConfig()) =>
  findClusterBinary('temporal-server', 'TEMPORAL_SERVER_PATH', config);

/** `temporal-sql-tool`, which creates and migrates the server's SQL schemas. */
export const findTemporalSqlTool = (config: Pick<Overrides, 'TEMPORAL_SQL_TOOL_PATH'> = loadConfig()) =>
  findClusterBinary('temporal-sql-tool', 'TEMPORAL_SQL_TOOL_PATH', config);

/**
 * The server's PostgreSQL schemas (`temporal/versioned`, `visibility/versioned`): TEMPORAL_SCHEMA_DIR,
 * else the copy `scripts/setup.sh --cluster` makes next to the binaries, else the server module in Go's
 * module cache. Throws naming the setup command when none holds them.
 */
export function findTemporalSchemaDir(config: Pick<Overrides, 'TEMPORAL_SCHEMA_DIR'> = loadConfig()): string {
  const override = config.TEMPORAL_SCHEMA_DIR;
  const hasSchemas = (dir: string) =>
    existsSync(join(dir, 'temporal', 'versioned')) && existsSync(join(dir, 'visibility', 'versioned'));
  if (override) {
    if (!hasSchemas(override))
      throw new Error(
        `TEMPORAL_SCHEMA_DIR=${override} holds no temporal/versioned and visibility/versioned directories`,
      );
    return override;
  }
  const modCache = process.env.GOMODCACHE ?? join(process.env.GOPATH ?? join(homedir(), 'go'), 'pkg', 'mod');
  const candidates = [
    join(dirname(toolsDir()), 'temporal-schema', TEMPORAL_SERVER_VERSION, 'postgresql', 'v12'),
    join(modCache, `go.temporal.io/server@${TEMPORAL_SERVER_VERSION}`, 'schema', 'postgresql', 'v12'),
  ];
  const found = candidates.find(hasSchemas);
  if (!found)
    throw new Error(
      `no Temporal ${TEMPORAL_SERVER_VERSION} PostgreSQL schemas in ${candidates.join(' or ')}: run \`${SETUP_CLUSTER}\` or set TEMPORAL_SCHEMA_DIR`,
    );
  return found;
}

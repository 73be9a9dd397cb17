/**
 * Finds the external binaries scrapeflow drives: the Temporal CLI and Chromium. The search order is the
 * same as scripts/setup.sh: explicit env override, PATH, then the setup script's tool directory.
 */
import { accessSync, constants } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';

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
export function findTemporalCli(): string | undefined {
  const override = process.env.TEMPORAL_CLI_PATH;
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

/** Chromium's path; throws with what to do when none is installed. */
export function findChromium(): string {
  const override = process.env.CHROMIUM_PATH;
  if (override) {
    if (!isExecutable(override)) throw new Error(`CHROMIUM_PATH=${override} is not an executable file`);
    return override;
  }
  for (const name of ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable']) {
    const found = onPath(name);
    if (found) return found;
  }
  throw new Error(
    'no Chromium found: run `bash scripts/setup.sh` (Debian: apt-get install -y chromium) or set CHROMIUM_PATH',
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

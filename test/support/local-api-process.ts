/**
 * The local API as a process of its own (`scrapeflow local-api --config <file>`), for tests that kill it
 * with SIGKILL and start it again on the same port: an OmniScrape outage. Its config names a state file,
 * so balances, counters and charges survive the kill (devkit/local-api/state-file.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { LocalApiConfigFile } from '../../devkit/local-api/index.js';
import { BIN } from './cli.js';

export interface LocalApiProcess {
  origin: string;
  /** The OmniScrape base URL: `origin + '/v1'`. */
  url: string;
  /** Whether a process is listening now (between `start` and `kill`). */
  running(): boolean;
  /** Starts the API (again) on its port, from the same config file; waits for its listening line. */
  start(): Promise<void>;
  /** Kills the API with SIGKILL (nothing flushed, nothing closed) and waits for it to exit. */
  kill(): Promise<void>;
}

/** Writes `config` (its `port` and `stateFile` fixed) to `configPath` and starts the API from it. */
export async function startLocalApiProcess(
  config: LocalApiConfigFile & { port: number; stateFile: string },
  configPath: string,
): Promise<LocalApiProcess> {
  await writeFile(configPath, JSON.stringify(config));
  const origin = `http://127.0.0.1:${config.port}`;
  let child: ChildProcess | undefined;
  const alive = () => child !== undefined && child.exitCode === null && child.signalCode === null;

  const start = async () => {
    if (alive()) throw new Error('the local API process is already running');
    const proc = spawn(process.execPath, [BIN, 'local-api', '--config', configPath, '--host', '127.0.0.1'], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = proc;
    const exited = once(proc, 'exit');
    // A test process that dies takes the API along instead of orphaning it on the port.
    const killOnExit = () => proc.kill('SIGKILL');
    process.once('exit', killOnExit);
    void exited.then(() => process.off('exit', killOnExit));
    let stderr = '';
    proc.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
    await new Promise<void>((resolve, reject) => {
      createInterface({ input: proc.stdout }).on('line', (line) => {
        if (line.startsWith('local-api listening on')) resolve();
      });
      void exited.then(() => reject(new Error(`local API exited before listening: ${stderr}`)));
    });
  };

  await start();
  return {
    origin,
    url: `${origin}/v1`,
    running: alive,
    start,
    async kill() {
      const proc = child;
      if (!proc || !alive()) return;
      const exited = once(proc, 'exit');
      proc.kill('SIGKILL');
      await exited;
    },
  };
}

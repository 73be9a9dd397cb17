/**
 * Running `bin/scrapeflow` as a process, as a user would: the entry point every such test starts, a
 * runner that collects the exit code and output (and samples the process's peak memory), and the
 * peak-RSS reading the benchmarks share.
 */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';

/** The CLI entry point. */
export const BIN = new URL('../../../bin/scrapeflow', import.meta.url).pathname;

/** Peak resident set of a process, MiB (VmHWM from /proc); 0 once it is gone. */
export async function peakRssMb(pid: number): Promise<number> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const kb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0);
    return +(kb / 1024).toFixed(1);
  } catch {
    return 0;
  }
}

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** The process's peak resident set, MiB, sampled while it ran. */
  peakRssMb: number;
}

/**
 * Runs `scrapeflow <args>` against a stack's Temporal (dev server, or a cluster with its TLS env) and store (bounded by the test's timeout).
 * `env` adds to or overrides the environment; `stdin` is written to the process's standard input.
 */
export function runCli(
  stack: { temporal: { address: string; env?: Record<string, string> }; dataDir: string },
  args: string[],
  { env = {}, stdin = '' }: { env?: Record<string, string>; stdin?: string } = {},
): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: {
        PATH: process.env.PATH ?? '',
        TEMPORAL_ADDRESS: stack.temporal.address,
        ...stack.temporal.env,
        SCRAPEFLOW_DATA_DIR: stack.dataDir,
        ...env,
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let peak = 0;
    const sampler = setInterval(() => {
      if (child.pid) void peakRssMb(child.pid).then((mb) => (peak = Math.max(peak, mb)));
    }, 100);
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      clearInterval(sampler);
      resolve({ code, stdout, stderr, peakRssMb: peak });
    });
    child.stdin.end(stdin);
  });
}

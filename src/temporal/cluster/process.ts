/** `cluster up`'s server process: started with its log in a file, awaited until it serves, stopped. */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { open, readFile, rename } from 'node:fs/promises';
import { Connection, type TLSConfig } from '@temporalio/client';
import proto from '@temporalio/proto';
import { CLUSTER_DEFAULTS } from '../defaults.js';
import { ClusterInterruptedError, ClusterStartError, isAppError } from '../../errors.js';
import { redactSecrets } from '../../logging/secrets.js';
import type { ClusterUpOptions, RunningCluster, SchemaOutcome } from './types.js';
import { childEnv } from './database.js';

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
export async function freeLowPort(): Promise<number> {
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

export async function startServer(args: {
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

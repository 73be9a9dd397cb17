/**
 * `scrapeflow cluster up` as a user runs it: the real Temporal server (temporal-server, built by
 * `bash scripts/setup.sh --cluster`) on the real PostgreSQL at 127.0.0.1:5432 (SCRAPEFLOW_TEST_DATABASE_URL
 * overrides), in a database of its own per run, dropped at the end. Without the cluster binaries the
 * file fails naming `setup.sh --cluster` (SCRAPEFLOW_SKIP_CLUSTER=1 skips it instead); unreachable
 * PostgreSQL fails it unless SCRAPEFLOW_SKIP_PG=1.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Client, Connection } from '@temporalio/client';
import pg from 'pg';
import { freePort } from '../../devkit/temporal/dev-server.js';
import { makeTestCerts, type TestCerts } from '../support/certs.js';
import { CLUSTER_ADMIN_URL, clusterUnavailable, dropClusterDatabases } from '../support/cluster.js';
import { BIN, runCli } from '../support/cli.js';
import { eventually } from '../support/stack.js';

const ADMIN_URL = CLUSTER_ADMIN_URL;

async function pgProblem(): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  } finally {
    await client.end().catch(() => {});
  }
}

const noBinaries = clusterUnavailable();
if (noBinaries && process.env.SCRAPEFLOW_SKIP_CLUSTER !== '1')
  throw new Error(`the cluster tests need the Temporal server: ${noBinaries}`);
const noPg = noBinaries ? undefined : await pgProblem();
if (noPg && process.env.SCRAPEFLOW_SKIP_PG !== '1')
  throw new Error(`PostgreSQL is unreachable (${noPg}); set SCRAPEFLOW_SKIP_PG=1 to skip these tests`);
const skip = noBinaries ?? noPg;

/** A `scrapeflow cluster up` process, with its stdout as lines. */
interface UpProcess {
  child: ChildProcess;
  lines: string[];
  stderr: () => string;
  /** The ready line; rejects when the process exits first. */
  ready: Promise<string>;
  exited: Promise<number | null>;
}

function clusterUp(args: string[], env: Record<string, string> = {}): UpProcess {
  const child = spawn(process.execPath, [BIN, 'cluster', 'up', ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  const ready = new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      lines.push(line);
      if (line.startsWith('ready: ')) resolve(line);
    });
    void exited.then((code) =>
      reject(new Error(`cluster up exited (${code}) before ready:\n${lines.join('\n')}\n${stderr}`)),
    );
  });
  ready.catch(() => {});
  return { child, lines, stderr: () => stderr, ready, exited };
}

/** Whether nothing listens on 127.0.0.1:port any more (binding it succeeds). */
async function portIsFree(port: number): Promise<boolean> {
  const server = createServer();
  try {
    server.listen(port, '127.0.0.1');
    await once(server, 'listening');
    return true;
  } catch {
    return false;
  } finally {
    server.close();
  }
}

/** SIGTERM, and the exit code (bounded by the test's timeout). */
async function terminate(up: UpProcess): Promise<number | null> {
  up.child.kill('SIGTERM');
  return up.exited;
}

describe('scrapeflow cluster up (temporal-server on PostgreSQL)', { skip }, () => {
  const database = `sf_up_${randomBytes(4).toString('hex')}`;
  const databaseUrl = `${ADMIN_URL.replace(/\/[^/]*$/, '')}/${database}`;
  let stateDir: string;
  let port: number;
  const running: UpProcess[] = [];
  const start = (args: string[] = [], env: Record<string, string> = {}) => {
    const up = clusterUp(
      ['--database-url', databaseUrl, '--port', String(port), '--dir', stateDir, ...args],
      env,
    );
    running.push(up);
    return up;
  };

  before(async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'scrapeflow-cluster-up-'));
    port = await freePort();
  });
  after(async () => {
    for (const up of running)
      if (up.child.exitCode === null && up.child.signalCode === null) await terminate(up);
    await dropClusterDatabases(database);
    if (stateDir) await rm(stateDir, { recursive: true, force: true });
  });

  it('fresh database: creates both databases and schemas, becomes ready; cluster setup registers "default"; SIGTERM exits 0 and frees the port', async () => {
    const up = start();
    const ready = await up.ready;
    assert.match(ready, new RegExp(`^ready: Temporal server v1\\.31\\.2 at 127\\.0\\.0\\.1:${port} in `));
    assert.match(ready, /scrapeflow cluster setup/);
    const output = up.lines.join('\n');
    assert.match(output, new RegExp(`created database ${database}\\n`));
    assert.match(output, new RegExp(`created database ${database}_visibility\\n`));
    assert.match(output, new RegExp(`schema of ${database}: set up v1\\.\\d+`));
    assert.match(output, new RegExp(`schema of ${database}_visibility: set up v1\\.\\d+`));
    const log = await readFile(join(stateDir, 'temporal-server.log'), 'utf8');
    assert.match(log, /frontend/, 'the server log goes to the state dir');
    const dynamicConfig = await readFile(join(stateDir, 'dynamic-config.yaml'), 'utf8');
    assert.match(dynamicConfig, /matching\.enableFairness:\n {2}- value: true/);

    // The server itself does not register "default": `cluster setup` does.
    const connection = await Connection.connect({ address: `127.0.0.1:${port}` });
    try {
      const { namespaces } = await connection.workflowService.listNamespaces({});
      const names = namespaces.map((n) => n.namespaceInfo?.name);
      assert.ok(!names.includes('default'), `namespaces before setup: ${names.join(', ')}`);
    } finally {
      await connection.close();
    }
    const setup = await runCli({ temporal: { address: `127.0.0.1:${port}` }, dataDir: stateDir }, [
      'cluster',
      'setup',
    ]);
    assert.equal(setup.code, 0, setup.stderr);
    assert.match(setup.stdout, /created namespace "default"/);
    assert.match(setup.stdout, /registered search attributes: /);

    assert.equal(await terminate(up), 0, up.stderr());
    assert.match(up.lines.join('\n'), /SIGTERM: stopping the Temporal server\nstopped/);
    assert.ok(await portIsFree(port), `port ${port} is free after the exit`);
  });

  it('second start on the same databases: migrates nothing, and the namespace is still there', async () => {
    const up = start();
    await up.ready;
    const output = up.lines.join('\n');
    assert.doesNotMatch(output, /created database/);
    assert.match(output, new RegExp(`schema of ${database}: v1\\.\\d+, current`));
    assert.match(output, new RegExp(`schema of ${database}_visibility: v1\\.\\d+, current`));
    const setup = await runCli({ temporal: { address: `127.0.0.1:${port}` }, dataDir: stateDir }, [
      'cluster',
      'setup',
    ]);
    assert.equal(setup.code, 0, setup.stderr);
    assert.match(setup.stdout, /nothing to change/);
    assert.equal(await terminate(up), 0, up.stderr());
  });

  it('a server that exits by itself: cluster up exits 1 with the last lines of its log', async () => {
    const up = start();
    await up.ready;
    const pid = Number(/server pid: (\d+)/.exec(up.lines.join('\n'))?.[1]);
    assert.ok(pid > 0, up.lines.join('\n'));
    process.kill(pid, 'SIGKILL');
    assert.equal(await up.exited, 1);
    assert.match(
      up.stderr(),
      /the Temporal server exited by itself \(SIGKILL\); last lines of .*temporal-server\.log:\n {2}info: /,
    );
  });

  describe('--tls (mTLS on the frontend)', () => {
    let certs: TestCerts;
    let up: UpProcess;
    before(async () => {
      certs = await makeTestCerts();
      up = start(['--tls', certs.dir]);
      await up.ready;
    });
    after(async () => {
      if (up) assert.equal(await terminate(up), 0, up.stderr());
      await certs?.remove();
    });

    it('a client with a certificate signed by ca.pem connects and reads the namespace', async () => {
      const connection = await Connection.connect({
        address: `127.0.0.1:${port}`,
        tls: { serverRootCACertificate: certs.ca, clientCertPair: certs.client },
      });
      try {
        const described = await connection.workflowService.describeNamespace({ namespace: 'default' });
        assert.equal(described.namespaceInfo?.name, 'default');
      } finally {
        await connection.close();
      }
    });

    it('a client without a certificate, or with one from another CA, or without TLS is refused', async () => {
      const address = `127.0.0.1:${port}`;
      const refused = async (what: string, tls: Parameters<typeof Connection.connect>[0]) => {
        await assert.rejects(
          Connection.connect({ ...tls, address, connectTimeout: 3000 }).then((c) => c.close()),
          `${what} is refused`,
        );
      };
      await refused('no client certificate', { tls: { serverRootCACertificate: certs.ca } });
      await refused('another CA', {
        tls: { serverRootCACertificate: certs.ca, clientCertPair: certs.stranger },
      });
      await refused('plaintext', { tls: false });
    });

    it("the server's own system worker reaches the frontend: a batch operation terminates a workflow", async () => {
      // Batch operations run on the server's system worker, an SDK client of the frontend: under mTLS it
      // must present the server's certificate and name the frontend's.
      const connection = await Connection.connect({
        address: `127.0.0.1:${port}`,
        tls: { serverRootCACertificate: certs.ca, clientCertPair: certs.client },
      });
      try {
        const client = new Client({ connection });
        const handle = await client.workflow.start('NoSuchWorkflow', {
          taskQueue: 'cluster-up-test-nobody-polls',
          workflowId: `cluster-up-${randomBytes(4).toString('hex')}`,
        });
        await connection.workflowService.startBatchOperation({
          namespace: 'default',
          jobId: `terminate-${handle.workflowId}`,
          reason: 'cluster up test',
          executions: [{ workflowId: handle.workflowId, runId: handle.firstExecutionRunId }],
          terminationOperation: {},
        });
        const log = () => readFile(join(stateDir, 'temporal-server.log'), 'utf8');
        await eventually(async () => (await handle.describe()).status.name === 'TERMINATED', {
          intervalMs: 250,
          what: 'the batch operation to terminate the workflow',
        }).catch(async (err: Error) => {
          const sdkErrors = (await log()).split('\n').filter((l) => l.includes('error creating sdk client'));
          throw new Error(
            `${err.message}; system worker: ${sdkErrors.at(-1) ?? 'no sdk client error logged'}`,
          );
        });
        assert.doesNotMatch(await log(), /error creating sdk client/);
      } finally {
        await connection.close();
      }
    });
  });
});

describe('scrapeflow cluster up without the cluster binaries', () => {
  it('fails naming `bash scripts/setup.sh --cluster` and the override variable', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'scrapeflow-no-tools-'));
    try {
      const up = clusterUp(['--database-url', 'postgres://postgres@127.0.0.1:5432/unused'], {
        SCRAPEFLOW_TOOLS_DIR: empty,
        PATH: '/usr/bin:/bin',
      });
      assert.equal(await up.exited, 3);
      assert.match(
        up.stderr(),
        /no temporal-server in .*: run `bash scripts\/setup\.sh --cluster`.* or set TEMPORAL_SERVER_PATH/,
      );
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });

  it('a bad --database-url is a usage error naming the flag', async () => {
    const up = clusterUp(['--database-url', 'mysql://x@127.0.0.1/db']);
    assert.equal(await up.exited, 2);
    assert.match(up.stderr(), /--database-url must be a postgres:\/\/ URL/);
  });
});

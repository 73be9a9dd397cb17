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
import { mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
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
import { clusterDatabaseUrl, parseDatabaseUrl } from '../../src/temporal/cluster/database.js';
import { checkListenAddress } from '../../src/temporal/cluster/tls.js';
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
const pgDown = await pgProblem();
const noPg = noBinaries ? undefined : pgDown;
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
    const up = clusterUp(['--port', String(port), '--dir', stateDir, ...args], {
      SCRAPEFLOW_CLUSTER_DATABASE_URL: databaseUrl,
      ...env,
    });
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

describe('cluster up: closed by default, no password on a command line (fake binaries, real PostgreSQL)', () => {
  it('a non-loopback --ip without --tls is a usage error saying why and how; loopback and --tls pass', async () => {
    const up = clusterUp(['--database-url', 'postgres://postgres@127.0.0.1:5432/unused', '--ip', '0.0.0.0']);
    assert.equal(await up.exited, 2);
    assert.match(
      up.stderr(),
      /--ip 0\.0\.0\.0 without --tls would open Temporal to the network with no authentication .*: add --tls <dir>/,
    );
    assert.equal(up.stderr().trim().split('\n').length, 1, up.stderr());
    assert.doesNotMatch(up.stderr(), /^ {4}at /m);
    for (const ip of ['127.0.0.1', '127.0.1.1', '::1', 'localhost']) checkListenAddress(ip, undefined);
    checkListenAddress('0.0.0.0', '/some/tls/dir');
    assert.throws(() => checkListenAddress('192.168.1.10', undefined), { code: 'cluster_config' });
  });

  it('--database-url with a password is refused without echoing it; the URL comes from the environment or a file', async () => {
    const up = clusterUp(['--database-url', 'postgres://postgres:hunter2-pw@127.0.0.1:5432/unused']);
    assert.equal(await up.exited, 2);
    assert.match(
      up.stderr(),
      /--database-url postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:5432\/unused carries a password/,
    );
    assert.doesNotMatch(up.stderr(), /hunter2/);

    const none = clusterUp([]);
    assert.equal(await none.exited, 2);
    assert.match(none.stderr(), /no database URL: set SCRAPEFLOW_CLUSTER_DATABASE_URL/);

    const dir = await mkdtemp(join(tmpdir(), 'scrapeflow-db-url-'));
    try {
      const file = join(dir, 'url');
      await writeFile(file, 'postgres://u:from-file@db:5432/t\n', { mode: 0o600 });
      assert.deepEqual(await clusterDatabaseUrl({ file }), {
        url: 'postgres://u:from-file@db:5432/t',
        source: `--database-url-file ${file}`,
      });
      assert.deepEqual(await clusterDatabaseUrl({ env: 'postgres://u:from-env@db/t' }), {
        url: 'postgres://u:from-env@db/t',
        source: 'SCRAPEFLOW_CLUSTER_DATABASE_URL',
      });
      await assert.rejects(
        clusterDatabaseUrl({ env: 'postgres://a@b/c', file }),
        /more than one database URL/,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    // A URL that does not parse is shown with its password masked.
    assert.throws(
      () => parseDatabaseUrl('postgres://u:pw-1234@[bad', 'SCRAPEFLOW_CLUSTER_DATABASE_URL'),
      (err: Error) =>
        /^SCRAPEFLOW_CLUSTER_DATABASE_URL is not a URL \(got "postgres:\/\/u:\*\*\*@\[bad"\)$/.test(
          err.message,
        ),
    );
  });

  it(
    'the server and the SQL tool get the password through a 0600 config file and their environment, never argv',
    { skip: pgDown },
    async () => {
      const dir = await mkdtemp(join(tmpdir(), 'scrapeflow-fake-cluster-'));
      const database = `sf_fake_${randomBytes(4).toString('hex')}`;
      const password = `pw-${randomBytes(6).toString('hex')}`;
      try {
        // Fake binaries record their arguments and environment; the "server" exits at once.
        const record = join(dir, 'calls');
        const fake = join(dir, 'fake');
        await writeFile(
          fake,
          `#!/bin/sh\n{ echo "argv: $*"; env | grep -E 'PASSWORD|DATABASE_URL' | sed 's/^/env: /'; } >> ${record}\necho "config ${password}"\ncase "$0" in *server) exit 1;; esac\n`,
          { mode: 0o755 },
        );
        await symlink(fake, join(dir, 'temporal-server'));
        await symlink(fake, join(dir, 'temporal-sql-tool'));
        for (const kind of ['temporal', 'visibility'])
          await mkdir(join(dir, 'schema', kind, 'versioned', 'v1.0'), { recursive: true });
        const stateDir = join(dir, 'state');
        const url = `${ADMIN_URL.replace(/^(postgres(?:ql)?:\/\/[^:@/]+)(?::[^@]*)?@/, `$1:${password}@`).replace(/\/[^/]*$/, '')}/${database}`;
        const up = clusterUp(['--dir', stateDir], {
          SCRAPEFLOW_CLUSTER_DATABASE_URL: url,
          TEMPORAL_SERVER_PATH: join(dir, 'temporal-server'),
          TEMPORAL_SQL_TOOL_PATH: join(dir, 'temporal-sql-tool'),
          TEMPORAL_SCHEMA_DIR: join(dir, 'schema'),
        });
        assert.equal(await up.exited, 3, up.stderr());
        assert.match(up.stderr(), /the Temporal server exited during start-up/);
        assert.doesNotMatch(`${up.stderr()}${up.lines.join('\n')}`, new RegExp(password));
        const calls = await readFile(record, 'utf8');
        const argv = calls.split('\n').filter((l) => l.startsWith('argv: '));
        assert.ok(
          argv.some((l) => l.includes('--config-file')) && argv.some((l) => l.includes('setup-schema')),
        );
        for (const line of argv) assert.doesNotMatch(line, new RegExp(password), line);
        assert.match(calls, new RegExp(`env: SQL_PASSWORD=${password}`), 'the SQL tool reads SQL_PASSWORD');
        assert.doesNotMatch(calls, /SCRAPEFLOW_CLUSTER_DATABASE_URL/, 'the children do not inherit the URL');
        assert.equal((await stat(stateDir)).mode & 0o777, 0o700);
        assert.equal((await stat(join(stateDir, 'config.yaml'))).mode & 0o777, 0o600);
        assert.match(
          await readFile(join(stateDir, 'config.yaml'), 'utf8'),
          new RegExp(`password: "${password}"`),
        );
      } finally {
        await dropClusterDatabases(database);
        await rm(dir, { recursive: true, force: true });
      }
    },
  );
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { BIN, runCli } from '../support/cli.js';

const BASE_URL = process.env.SCRAPEFLOW_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** Every process whose parent chain leads to `root` (from /proc). */
function descendants(root: number): number[] {
  const parent = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parent.set(Number(name), ppid);
    } catch {
      /* exited meanwhile */
    }
  }
  const found: number[] = [];
  const frontier = [root];
  while (frontier.length) {
    const pid = frontier.pop() as number;
    for (const [child, ppid] of parent) {
      if (ppid !== pid) continue;
      found.push(child);
      frontier.push(child);
    }
  }
  return found;
}

const alive = (pid: number) => {
  if (!existsSync(`/proc/${pid}/stat`)) return false;
  return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
};

/** `scrapeflow dev` on free ports, resolved with its output once it printed `ready`. */
async function startDev(dataDir: string, env: Record<string, string> = {}) {
  const child = spawn(
    process.execPath,
    [
      BIN,
      'dev',
      '--data-dir',
      dataDir,
      ...['temporal', 'ui', 'service', 'api', 'demo'].flatMap((p) => [`--${p}-port`, '0']),
    ],
    {
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '',
        SCRAPEFLOW_API_TOKEN: 'dev-test-token-0123456789abcdefgh',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = once(child, 'exit');
  const lines: string[] = [];
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      lines.push(line);
      if (line.startsWith('ready')) resolve();
    });
    void exited.then(() => reject(new Error(`dev exited early: ${stderr}\n${lines.join('\n')}`)));
  });
  return {
    child,
    exited,
    text: lines.join('\n'),
    stderr: () => stderr,
    /** SIGTERM, so that dev stops its own children too; resolves once it exited. */
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

describe('scrapeflow dev', () => {
  it('starts the whole stack, serves requests, and leaves no process behind on SIGTERM', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'scrapeflow-devtest-'));
    let dev: Awaited<ReturnType<typeof startDev>> | undefined;
    try {
      dev = await startDev(dataDir);
      const { child, text, exited } = dev;
      for (const label of [
        'Temporal frontend',
        'Temporal Web UI',
        'HTTP service',
        'local OmniScrape',
        'demo site',
      ])
        assert.match(text, new RegExp(label));
      const service = /HTTP service\s+(\S+)/.exec(text)?.[1] ?? '';
      const ui = /Temporal Web UI\s+(\S+)/.exec(text)?.[1] ?? '';
      const health = await fetch(`${service}/healthz`, {
        headers: { authorization: 'Bearer dev-test-token-0123456789abcdefgh' },
      });
      assert.equal(health.status, 200);
      assert.equal((await fetch(ui)).ok, true, 'the Web UI answers');
      const children = descendants(child.pid as number);
      assert.ok(children.length >= 1, 'the Temporal dev server runs as a child process');
      child.kill('SIGTERM');
      const [code] = (await exited) as [number | null];
      assert.equal(code, 0, dev.stderr());
      const left = children.filter(alive);
      assert.deepEqual(left, [], 'no process left behind');
      assert.ok(existsSync(join(dataDir, 'temporal.db')), '--data-dir keeps the Temporal database');
    } finally {
      await dev?.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('with SCRAPEFLOW_DATABASE_URL, runs on that PostgreSQL store: a CLI batch from the printed export line completes there', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'scrapeflow-devtest-pg-'));
    const schema = `sf_dev_${randomBytes(4).toString('hex')}`;
    const admin = new pg.Client({ connectionString: BASE_URL });
    await admin.connect();
    await admin.query(`CREATE SCHEMA ${schema}`);
    const url = new URL(BASE_URL);
    url.searchParams.set('options', `-c search_path=${schema}`);
    let dev: Awaited<ReturnType<typeof startDev>> | undefined;
    try {
      dev = await startDev(dataDir, { SCRAPEFLOW_DATABASE_URL: url.href });
      assert.match(dev.text, /store\s+pg:/);
      // The line a user copies into another shell.
      const exportLine = /export (.*)$/m.exec(dev.text)?.[1] ?? '';
      const env: Record<string, string> = {};
      for (const [, name = '', value = ''] of exportLine.matchAll(/(\w+)=('[^']*'|\S+)/g))
        env[name] = value.replace(/^'|'$/g, '');
      assert.equal(env.SCRAPEFLOW_DATABASE_URL, url.href, exportLine);
      assert.equal(env.SCRAPEFLOW_DATA_DIR, undefined, 'the filesystem store is not the one in use');

      const demo = /demo site\s+(\S+)/.exec(dev.text)?.[1] ?? '';
      const input = join(dataDir, 'urls.txt');
      await writeFile(input, `${demo}/p/1\n${demo}/p/2\n`);
      const started = await runCli(
        { temporal: { address: env.TEMPORAL_ADDRESS ?? '' }, dataDir: join(dataDir, 'cli-store') },
        ['start', input, '--batch-id', 'dev-pg-1', '--wait'],
        { env },
      );
      assert.equal(started.code, 0, `${started.stdout}\n${started.stderr}`);

      const { rows } = await admin.query<{ idx: number; status: string }>(
        `SELECT idx, status FROM ${schema}.scrapeflow_results WHERE batch_id = 'dev-pg-1' ORDER BY idx`,
      );
      assert.deepEqual(rows, [
        { idx: 0, status: 'succeeded' },
        { idx: 1, status: 'succeeded' },
      ]);
      // dev's HTTP service reads the same store.
      const service = /HTTP service\s+(\S+)/.exec(dev.text)?.[1] ?? '';
      const results = await fetch(`${service}/v1/batches/dev-pg-1/results`, {
        headers: { authorization: 'Bearer dev-test-token-0123456789abcdefgh' },
      });
      assert.equal((await results.text()).trim().split('\n').length, 2);
    } finally {
      await dev?.stop();
      await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await admin.end();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { BIN } from '../support/cli.js';

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

describe('scrapeflow dev', () => {
  it('starts the whole stack, serves requests, and leaves no process behind on SIGTERM', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'scrapeflow-devtest-'));
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
          SCRAPEFLOW_API_TOKEN: 'dev-test-token',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = once(child, 'exit');
    const lines: string[] = [];
    try {
      await new Promise<void>((resolve, reject) => {
        createInterface({ input: child.stdout }).on('line', (line) => {
          lines.push(line);
          if (line.startsWith('ready')) resolve();
        });
        void exited.then(() => reject(new Error(`dev exited early: ${stderr}\n${lines.join('\n')}`)));
      });
      const text = lines.join('\n');
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
        headers: { authorization: 'Bearer dev-test-token' },
      });
      assert.equal(health.status, 200);
      assert.equal((await fetch(ui)).ok, true, 'the Web UI answers');
      const children = descendants(child.pid as number);
      assert.ok(children.length >= 1, 'the Temporal dev server runs as a child process');
      child.kill('SIGTERM');
      const [code] = (await exited) as [number | null];
      assert.equal(code, 0, stderr);
      const left = children.filter(alive);
      assert.deepEqual(left, [], 'no process left behind');
      assert.ok(existsSync(join(dataDir, 'temporal.db')), '--data-dir keeps the Temporal database');
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

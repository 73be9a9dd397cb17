import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BatchProgress } from '../../src/workflows/types.js';
import { pauseBatch, startBatch } from '../../src/client/batches.js';
import { runCli, type CliRun } from '../support/cli.js';
import { eventually, startStack, type Stack } from '../support/stack.js';

let stack: Stack;

before(async () => {
  stack = await startStack({ concurrency: 3 });
  await stack.startWorker();
});
after(() => stack?.stop());

/** Runs `scrapeflow <args>` against this suite's stack. */
const cli = (args: string[], env: Record<string, string> = {}, stdin?: string): Promise<CliRun> =>
  runCli(stack, args, { env, ...(stdin !== undefined ? { stdin } : {}) });

function ok(run: CliRun): void {
  assert.equal(run.code, 0, `exit ${run.code}: ${run.stderr}`);
}

describe('scrapeflow CLI (processes against a real dev server)', () => {
  it('start --wait --json runs a CSV batch to the end; status, results, dead-letters, list, redrive follow', async () => {
    const file = join(stack.dataDir, 'urls.csv');
    await writeFile(
      file,
      `url,tags\n${stack.demoOrigin}/p/1,"=1+1;a"\n${stack.demoOrigin}/p/2,a;b\n${stack.demoOrigin}/status/404,\n`,
    );
    const run = await cli([
      'start',
      file,
      '--batch-id',
      'cli-1',
      '--mode',
      'fast',
      '--selector',
      'title=h1',
      '--wait',
      '--json',
    ]);
    assert.equal(run.code, 5, `a dead letter means not every URL succeeded: ${run.stderr}`);
    const out = JSON.parse(run.stdout) as { batchId: string; total: number; progress: BatchProgress };
    assert.equal(out.batchId, 'cli-1');
    assert.equal(out.total, 3);
    assert.equal(out.progress.state, 'completed');
    assert.match(
      run.stderr,
      /cli-1: completed \| 3\/3 done/,
      'the progress view, as lines when not a terminal',
    );

    const status = await cli(['status', 'cli-1', '--json']);
    assert.equal(status.code, 0);
    const progress = JSON.parse(status.stdout) as BatchProgress;
    assert.deepEqual(progress.counts, {
      succeeded: 2,
      failed: 0,
      dead_lettered: 1,
      in_flight: 0,
      pending: 0,
    });
    assert.equal(typeof progress.credits, 'number');

    const csv = await cli(['results', 'cli-1', '--format', 'csv', '--status', 'succeeded']);
    assert.equal(csv.code, 0, csv.stderr);
    const rows = csv.stdout.trim().split('\n');
    assert.equal(rows.length, 3);
    assert.match(rows[2] ?? '', /,a;b,"\{""title"":""Product 2""\}"/);
    assert.match(rows[1] ?? '', /,"'=1\+1;a",/, 'a cell a spreadsheet would run is neutralised');
    const outFile = join(stack.dataDir, 'dead.jsonl');
    ok(await cli(['dead-letters', 'cli-1', '-o', outFile]));

    const list = await cli(['list', '--status', 'completed', '--json']);
    assert.ok(list.stdout.includes('"batchId":"cli-1"'), list.stdout + list.stderr);

    const redrive = await cli(['redrive', 'cli-1', '--batch-id', 'cli-1-r', '--json']);
    assert.equal(redrive.code, 0, redrive.stderr);
    assert.deepEqual(JSON.parse(redrive.stdout), { batchId: 'cli-1-r', redrivenFrom: 'cli-1', total: 1 });
    const again = await cli(['redrive', 'cli-1']);
    assert.equal(again.code, 4);
    assert.match(again.stderr, /no dead letters left/);
  });

  it('reads stdin, pauses, resumes and cancels; ended batches give exit 6', async () => {
    // The demo site holds each URL's page while a signal is sent from another process, so the signal
    // lands while URLs remain however slowly those processes start (one URL in flight at a time).
    const urls = Array.from(
      { length: 5 },
      (_, i) => `${stack.demoOrigin}/interactive/items?page=${i + 1}`,
    ).join('\n');
    /** Runs `steer` while the demo site holds the next page fetched, once one is held. */
    const whileHeld = async (before: () => Promise<void>, steer: () => Promise<void>): Promise<void> => {
      const hold = stack.demo.holdInteractiveItems();
      try {
        await before();
        await eventually(() => Promise.resolve(hold.held() > 0 || undefined), { what: 'a page held' });
        await steer();
      } finally {
        hold.release();
      }
    };
    await whileHeld(
      async () => {
        const start = await cli(
          ['start', '-', '--batch-id', 'cli-2', '--concurrency', '1', '--mode', 'fast'],
          {},
          `# held\n${urls}\n`,
        );
        assert.equal(start.code, 0, start.stderr);
        assert.match(start.stdout, /started batch cli-2 with 5 URLs/);
      },
      async () => ok(await cli(['pause', 'cli-2'])),
    );
    const watch = await cli(['status', 'cli-2', '--watch', '--interval', '200', '--json']);
    assert.equal(watch.code, 5, 'a paused batch is not completed');
    const paused = JSON.parse(watch.stdout) as BatchProgress;
    assert.equal(paused.state, 'paused');
    assert.equal(paused.counts.pending, 4, 'paused with the one URL in flight: nothing new started');
    await whileHeld(
      async () => ok(await cli(['resume', 'cli-2'])),
      async () => ok(await cli(['cancel', 'cli-2'])),
    );
    const final = JSON.parse(
      (await cli(['status', 'cli-2', '--watch', '--interval', '200', '--json'])).stdout,
    ) as BatchProgress;
    assert.equal(final.state, 'cancelled');
    assert.equal(final.counts.in_flight, 0);
    assert.ok(final.counts.succeeded < 5, `cancelled while URLs remained: ${JSON.stringify(final.counts)}`);
    const late = await cli(['pause', 'cli-2']);
    assert.equal(late.code, 6);
    assert.match(late.stderr, /already ended/);
    ok(await cli(['resume', '--all']));
  });

  it('refuses the id of a running batch with exit 7, and that batch ends with its own URLs only', async () => {
    // Three 2 s pages one at a time, paused at once from this process: the batch cannot end before the
    // pause lands, and paused it stays running (its workflow open) while the refused starts run.
    const own = Array.from({ length: 3 }, (_, i) => `${stack.demoOrigin}/slow/${i + 1}?ms=2000`);
    await startBatch(stack.client, stack.store, {
      batchId: 'cli-taken',
      urls: own.map((url) => ({ url })),
      options: { concurrency: 1, mode: 'fast' },
    });
    await pauseBatch(stack.client, 'cli-taken');
    const other = `${stack.demoOrigin}/p/11\n${stack.demoOrigin}/p/12\n`;
    const refused = await cli(['start', '-', '--batch-id', 'cli-taken', '--mode', 'fast'], {}, other);
    assert.equal(refused.code, 7, refused.stderr);
    assert.equal(
      refused.stderr.trim(),
      'scrapeflow: batch id "cli-taken" is taken (a batch under it is running): a batch id names one batch ' +
        'forever, so choose another id (or leave it out to get a generated one)',
    );
    assert.equal(await stack.store.inputCount('cli-taken'), 3, 'its input is untouched');
    ok(await cli(['resume', 'cli-taken']));
    const final = await cli(['status', 'cli-taken', '--watch', '--interval', '200', '--json']);
    assert.equal(final.code, 0, final.stderr);
    assert.equal((JSON.parse(final.stdout) as BatchProgress).counts.succeeded, 3);
    const results = await cli(['results', 'cli-taken']);
    assert.deepEqual(
      results.stdout
        .trim()
        .split('\n')
        .map((line) => (JSON.parse(line) as { url: string }).url),
      own,
    );
    // Ended, its id stays taken; a re-drive into it is refused like any start.
    const late = await cli(['start', '-', '--batch-id', 'cli-taken'], {}, other);
    assert.equal(late.code, 7);
    assert.match(late.stderr, /a batch under it is completed/);
    const redrive = await cli(['redrive', 'cli-1', '--batch-id', 'cli-taken']);
    assert.equal(redrive.code, 7, redrive.stderr);
  });

  it('exit codes: 2 for bad input naming the line, 4 for unknown batches, 3 without Temporal', async () => {
    const file = join(stack.dataDir, 'bad.txt');
    await writeFile(file, `${stack.demoOrigin}/p/1\n\nnot-a-url\n`);
    const bad = await cli(['start', file]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /line 3: "not-a-url" is not a valid http\(s\) URL/);
    const skipped = await cli(['start', file, '--skip-invalid', '--json', '--batch-id', 'cli-3']);
    assert.equal(skipped.code, 0, skipped.stderr);
    assert.deepEqual(JSON.parse(skipped.stdout), { batchId: 'cli-3', total: 1, skipped: 1 });
    assert.equal((await cli(['start', join(stack.dataDir, 'missing.txt')])).code, 2);
    const directory = await cli(['start', stack.dataDir]);
    assert.equal(directory.code, 2, directory.stderr);
    assert.ok(directory.stderr.includes(`cannot read ${stack.dataDir}: it is a directory`), directory.stderr);
    assert.ok(
      !directory.stderr.includes('    at '),
      `a one-line error, not a stack trace: ${directory.stderr}`,
    );
    assert.equal((await cli(['start', file, '--selector', 'nope'])).code, 2);
    const unknown = await cli(['status', 'no-such-batch']);
    assert.equal(unknown.code, 4);
    assert.match(unknown.stderr, /scrapeflow list/);
    assert.equal((await cli(['results', 'no-such-batch'])).code, 4);
    const down = await cli(['status', 'cli-1'], { TEMPORAL_ADDRESS: '127.0.0.1:1' });
    assert.equal(down.code, 3);
    assert.match(down.stderr, /scrapeflow dev/);
    assert.equal((await cli(['resume'])).code, 2);
  });
});

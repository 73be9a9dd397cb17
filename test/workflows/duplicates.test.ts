/**
 * Duplicate URLs in one input (src/batch/dedupe.ts): the first line is scraped, each later line gets a
 * record pointing at it, charged 0; `dedupe: false` (`--no-dedupe`) scrapes every line.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cancelBatch, startBatch } from '../../src/client/batches.js';
import { getCosts } from '../../src/client/costs.js';
import { getProgress } from '../../src/client/progress.js';
import type { FaultRuleView } from '../../devkit/local-api/faults.js';
import type { ResultRecord } from '../../src/store/types.js';
import type { BatchProgress } from '../../src/workflows/types.js';
import { runCli } from '../support/cli.js';
import { eventually, startStack, type Stack } from '../support/stack.js';

let stack: Stack;
before(async () => {
  stack = await startStack({ concurrency: 4 });
  await stack.startWorker();
});
after(() => stack?.stop());

/** `localhost` and a case-differing spelling of it both reach the demo site (127.0.0.1). */
const local = (host: string, n: number) => stack.demoOrigin.replace('127.0.0.1', host) + `/p/${n}`;

/** Scrape requests per demo page since the rules were set: one counting rule per path, any host. */
async function countRequests(paths: number[], deadLetter: number) {
  await stack.admin('PUT', '/admin/faults', {
    rules: paths.map((n) =>
      n === deadLetter
        ? { id: `p${n}`, match: `*/p/${n}`, action: 'success_false' }
        : { id: `p${n}`, match: `*/p/${n}`, action: 'latency', latencyMs: 0 },
    ),
  });
  return async () => {
    const { rules } = await stack.admin<{ rules: FaultRuleView[] }>('GET', '/admin/faults');
    return Object.fromEntries(rules.map((r) => [r.id, r.matched]));
  };
}

const sumOf = (p: BatchProgress) =>
  p.counts.succeeded +
  p.counts.failed +
  p.counts.dead_lettered +
  p.counts.in_flight +
  p.counts.pending +
  (p.duplicates?.waiting ?? 0);

describe('duplicate URLs in one input', () => {
  it('scrapes each URL once; every later line gets a record pointing at its first, charged 0', async () => {
    const requests = await countRequests([1, 2, 3], 3);
    const chargedBefore = stack.api.state.counters.snapshot().credits.charged_total;
    const urls = [
      { url: local('localhost', 1) },
      { url: local('localhost', 2) },
      { url: local('localhost', 1), tags: ['again'] },
      { url: local('LocalHost', 1) },
      { url: local('localhost', 3) },
      { url: local('localhost', 3), tags: ['again'] },
      { url: local('localhost', 2) },
    ];
    const { batchId, total, handle } = await startBatch(stack.client, stack.store, {
      batchId: 'dups-default',
      urls,
      options: { mode: 'fast', concurrency: 2, tags: ['batch'] },
    });
    assert.equal(total, 7);
    const final = (await handle.result()) as BatchProgress;
    assert.deepEqual(await requests(), { p1: 1, p2: 1, p3: 1 }, 'one scrape per URL');
    assert.deepEqual(final.counts, { succeeded: 5, failed: 0, dead_lettered: 2, in_flight: 0, pending: 0 });
    assert.deepEqual(final.duplicates, { lines: 4, waiting: 0 });

    const rs = await stack.records(batchId);
    assert.deepEqual(
      rs.map((r) => [r.index, r.url, r.status, r.duplicateOf]),
      urls.map((u, i) => [
        i,
        u.url,
        i === 4 || i === 5 ? 'dead_lettered' : 'succeeded',
        [undefined, undefined, 0, 0, undefined, 4, 1][i],
      ]),
    );
    const [first, , again, variant, deadFirst, deadAgain] = rs as [ResultRecord, ...ResultRecord[]];
    for (const dup of [again, variant, deadAgain, rs[6]]) {
      assert.equal(dup?.charged, 0);
      assert.equal(dup?.attempts, 0);
    }
    assert.deepEqual(again?.tags, ['batch', 'again'], "a duplicate's record keeps its own tags");
    assert.equal(again?.contentRef, first.contentRef, 'the first page body, not a copy');
    assert.equal(again?.methodUsed, first.methodUsed);
    assert.ok(first.charged > 0);
    assert.deepEqual(
      [deadAgain?.reason, deadAgain?.detail],
      [deadFirst?.reason, deadFirst?.detail],
      'a dead-lettered first makes its duplicates dead letters, saying why',
    );
    const charged = rs.reduce((sum, r) => sum + r.charged, 0);
    assert.equal(final.credits, charged);
    // By tag from the records (the workflows carry no per-tag totals).
    const { byTag } = await getCosts(stack.client, stack.store, batchId);
    assert.equal(byTag.batch, charged);
    assert.equal(byTag.again, undefined, "credits stay with the first line's tags");
    assert.equal(stack.api.state.counters.snapshot().credits.charged_total - chargedBefore, charged);

    const status = await runCli(stack, ['status', batchId]);
    assert.match(status.stdout, /duplicate lines: 4 /, status.stderr);
    // The export shows the pointer.
    const exported = await runCli(stack, ['results', batchId, '--format', 'csv']);
    assert.equal(exported.code, 0, exported.stderr);
    const [header, ...lines] = exported.stdout.trim().split('\n');
    const column = header!.split(',').indexOf('duplicateOf');
    assert.ok(column > 0, header);
    assert.deepEqual(
      lines.map((line) => line.split(',')[column]),
      ['', '', '0', '0', '', '4', '1'],
    );
  });

  it('--no-dedupe scrapes (and charges) every line', async () => {
    const requests = await countRequests([4, 5], -1);
    const lines = [
      local('localhost', 4),
      local('localhost', 5),
      local('localhost', 4),
      local('LOCALHOST', 4),
    ];
    const run = await runCli(
      stack,
      ['start', '-', '--batch-id', 'dups-off', '--no-dedupe', '--mode', 'fast', '--wait', '--json'],
      {
        stdin: lines.join('\n') + '\n',
      },
    );
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(await requests(), { p4: 3, p5: 1 });
    const rs = await stack.records('dups-off');
    assert.equal(rs.length, 4);
    assert.ok(rs.every((r) => r.duplicateOf === undefined && r.charged > 0 && r.status === 'succeeded'));
    const final = JSON.parse(run.stdout) as { progress: BatchProgress };
    assert.deepEqual(final.progress.duplicates, { lines: 0, waiting: 0 });
  });

  it('a cancelled batch records the duplicates of the lines it reached, as their firsts ended', async () => {
    await stack.admin('PUT', '/admin/faults', {
      rules: [{ match: '*/p/20', action: 'hang', endpoints: ['scrape'] }],
    });
    const page = (n: number) => `${stack.demoOrigin}/p/${n}`;
    const { batchId, handle } = await startBatch(stack.client, stack.store, {
      batchId: 'dups-cancel',
      urls: [{ url: page(20) }, { url: page(20) }, { url: page(21) }],
      options: { mode: 'fast', concurrency: 2 },
    });
    const running = await eventually(
      async () => {
        const p = await getProgress(stack.client, stack.store, batchId);
        return p.counts.pending === 0 && p.counts.succeeded === 1 ? p : undefined;
      },
      { what: 'every line reached, the hanging first in flight' },
    );
    assert.deepEqual(running.duplicates, { lines: 1, waiting: 1 });
    assert.equal(running.counts.in_flight, 1);
    assert.equal(sumOf(running), running.total, 'the counts add up to the total while it runs');
    await cancelBatch(stack.client, batchId);
    const final = (await handle.result()) as BatchProgress;
    assert.equal(final.state, 'cancelled');
    assert.deepEqual(final.counts, { succeeded: 1, failed: 2, dead_lettered: 0, in_flight: 0, pending: 0 });
    const rs = await stack.records(batchId);
    assert.deepEqual(
      rs.map((r) => [r.status, r.reason, r.duplicateOf]),
      [
        ['failed', 'cancelled', undefined],
        ['failed', 'cancelled', 0],
        ['succeeded', undefined, undefined],
      ],
    );
  });
});

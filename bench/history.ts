/**
 * History bytes per URL: what a batch writes into Temporal's database, summed over every workflow run
 * of the batch (the batch, its pages, and the runs they continued as new into), divided by its URLs.
 * 1,000 URLs at zero latency, `css_extractor` with 3 and with 50 selectors: the options a URL runs
 * with must not grow its share of the history (target ≤ 700 bytes per URL with 3 selectors, at most
 * 10 % more with 50). Histories are counted as their protobuf encoding, as the server stores them.
 */
import proto from '@temporalio/proto';
import { startStack, type Stack } from '../test/support/stack.js';
import { timedBatch } from './timed-batch.js';

export const name = 'history';

const URLS = Number(process.env.BENCH_HISTORY_URLS ?? 1000);
const SELECTOR_COUNTS = (process.env.BENCH_HISTORY_SELECTORS ?? '3,50').split(',').map(Number);
const CONCURRENCY = 20;

const selectors = (n: number) =>
  Object.fromEntries(Array.from({ length: n }, (_, i) => [`field_${i}`, i % 2 ? 'h1' : 'title']));

/** Bytes of every run of the batch's workflows (listed by workflow id), and how many runs. */
async function historyBytes(stack: Stack, batchId: string): Promise<{ bytes: number; runs: number }> {
  let bytes = 0;
  let runs = 0;
  for await (const wf of stack.client.workflow.list()) {
    if (wf.workflowId !== batchId && !wf.workflowId.startsWith(`${batchId}/p`)) continue;
    const history = await stack.client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory();
    bytes += proto.temporal.api.history.v1.History.encode(history).finish().length;
    runs += 1;
  }
  return { bytes, runs };
}

export async function run(): Promise<Record<string, unknown>> {
  const stack = await startStack({ concurrency: CONCURRENCY });
  const results: Record<string, unknown>[] = [];
  try {
    await stack.startWorker();
    for (const count of SELECTOR_COUNTS) {
      const batchId = `history-${count}`;
      const urls = Array.from({ length: URLS }, (_, i) => `${stack.demoOrigin}/p/${count * 10_000 + i + 1}`);
      const flow = await timedBatch(stack, batchId, urls, {
        mode: 'fast',
        outputFormat: 'css_extractor',
        cssSelectors: selectors(count),
        concurrency: CONCURRENCY,
      });
      const { bytes, runs } = await historyBytes(stack, batchId);
      const row = {
        selectors: count,
        urls: URLS,
        succeeded: flow.ok,
        runs,
        historyBytes: bytes,
        bytesPerUrl: Math.round(bytes / URLS),
      };
      process.stderr.write(`history ${count} selectors: ${JSON.stringify(row)}\n`);
      results.push(row);
    }
  } finally {
    await stack.stop();
  }
  const perUrl = results.map((r) => r.bytesPerUrl as number);
  const few = perUrl[0] ?? 0;
  const many = perUrl[perUrl.length - 1] ?? 0;
  return {
    target: '<= 700 bytes of history per URL with 3 selectors, at most 10 % more with 50',
    met: few <= 700 && many <= few * 1.1,
    results,
  };
}

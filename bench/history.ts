/**
 * History bytes per URL: what a batch writes into Temporal's database, summed over every workflow run
 * of the batch (the batch, its pages, and the runs they continued as new into), divided by its URLs.
 * 1,000 URLs at zero latency, `css_extractor` with 3 and with 50 selectors: the options a URL runs
 * with must not grow its share of the history (target ≤ 700 bytes per URL with 3 selectors, at most
 * 10 % more with 50). Histories are counted as their protobuf encoding, as the server stores them.
 * `eventBytes` is the part the batch's events take (their `recordEvents` activities and the `events`
 * patch marker): O(pages), not O(URLs).
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

type HistoryEvent = proto.temporal.api.history.v1.IHistoryEvent;

/** The marker of the `events` patch (its data names the patch id). */
function isEventsPatch(e: HistoryEvent): boolean {
  const data = e.markerRecordedEventAttributes?.details?.patch_data?.payloads?.[0]?.data;
  return data ? Buffer.from(data).toString().includes('"events"') : false;
}

/** Bytes of the history events that record the batch's events: their activities and the patch marker. */
function eventBytes(events: HistoryEvent[]): number {
  const scheduled = new Set<string>();
  let bytes = 0;
  for (const e of events) {
    const id = String(e.eventId);
    const attrs =
      e.activityTaskStartedEventAttributes ??
      e.activityTaskCompletedEventAttributes ??
      e.activityTaskFailedEventAttributes;
    const ours =
      e.activityTaskScheduledEventAttributes?.activityType?.name === 'recordEvents' ||
      (attrs && scheduled.has(String(attrs.scheduledEventId))) ||
      isEventsPatch(e);
    if (e.activityTaskScheduledEventAttributes?.activityType?.name === 'recordEvents') scheduled.add(id);
    if (ours) bytes += proto.temporal.api.history.v1.HistoryEvent.encode(e).finish().length;
  }
  return bytes;
}

/** Bytes of every run of the batch's workflows (listed by workflow id), and how many runs. */
async function historyBytes(
  stack: Stack,
  batchId: string,
): Promise<{ bytes: number; runs: number; events: number }> {
  let bytes = 0;
  let runs = 0;
  let events = 0;
  for await (const wf of stack.client.workflow.list()) {
    if (wf.workflowId !== batchId && !wf.workflowId.startsWith(`${batchId}/p`)) continue;
    const history = await stack.client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory();
    bytes += proto.temporal.api.history.v1.History.encode(history).finish().length;
    events += eventBytes(history.events ?? []);
    runs += 1;
  }
  return { bytes, runs, events };
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
      const { bytes, runs, events } = await historyBytes(stack, batchId);
      const row = {
        selectors: count,
        urls: URLS,
        succeeded: flow.ok,
        runs,
        historyBytes: bytes,
        bytesPerUrl: Math.round(bytes / URLS),
        eventBytes: events,
        eventBytesPerUrl: Math.round((events / URLS) * 10) / 10,
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

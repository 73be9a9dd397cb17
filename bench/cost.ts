/**
 * What a batch costs Temporal: history events per URL and Temporal Cloud Actions per URL, counted from
 * the histories of every workflow of a batch of BENCH_COST_URLS (default 1,000) URLs — the batch and
 * its pages, every run of each (continued runs included) — by Temporal Cloud's published rules
 * (bench/cloud-actions.ts). Heartbeats and queries, which are Actions but not history events, come from
 * the dev server's own request counters (its Prometheus endpoint), as does the server's `action` metric,
 * printed beside the count as a cross-check.
 *
 * Two batches: a clean one, and one where 10 % of the scrape calls are answered 429 (Retry-After 0; the
 * fault rule draws again for a retried call, so about 1 % of the URLs meet a second one). Every scrape
 * takes BENCH_COST_LATENCY_MS (default 1000 ms, as in the throughput benchmark), so completions arrive
 * spread out as they do against the real API; default batch options except concurrency
 * (BENCH_COST_CONCURRENCY, default 20).
 */
import type { Client } from '@temporalio/client';
import proto from '@temporalio/proto';
import { freePort } from '../devkit/temporal/dev-server.js';
import { pageWorkflowId } from '../src/workflows/types.js';
import { startStack, type Stack } from '../test/support/stack.js';
import { addCounts, cloudActions, eventTypeName, sumCounts } from './cloud-actions.js';
import { scrapeMetrics, total, type Samples } from './server-metrics.js';
import { timedBatch } from './timed-batch.js';

export const name = 'cost';

const URLS = Number(process.env.BENCH_COST_URLS ?? 1000);
const CONCURRENCY = Number(process.env.BENCH_COST_CONCURRENCY ?? 20);
const LATENCY_MS = Number(process.env.BENCH_COST_LATENCY_MS ?? 1000);

/** Every run of a workflow id, newest first: from the latest run back along `continuedExecutionRunId`. */
async function runHistories(client: Client, workflowId: string) {
  const histories = [];
  let runId: string | undefined;
  for (let guard = 0; guard < 10_000; guard++) {
    const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
    histories.push({
      events: history.events ?? [],
      bytes: proto.temporal.api.history.v1.History.encode(history).finish().length,
    });
    runId =
      history.events?.[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId ?? undefined;
    if (!runId) break;
  }
  return histories;
}

const perUrl = (counts: Record<string, number>) =>
  Object.fromEntries(
    Object.entries(counts)
      .sort(([, a], [, b]) => b - a)
      .map(([k, v]) => [k, +(v / URLS).toFixed(3)]),
  );

/** The server's counters that are Actions outside history (heartbeats, queries), and its own estimate. */
function serverCounts(samples: Samples) {
  const frontend = { service_name: 'frontend', namespace: 'default' };
  const requests = (operation: string) => total(samples, 'service_requests', { ...frontend, operation });
  const actionTypes: Record<string, number> = {};
  for (const s of samples)
    if (s.name === 'action' && s.labels.service_name === 'frontend' && s.labels.namespace === 'default')
      actionTypes[s.labels.action_type ?? '?'] = (actionTypes[s.labels.action_type ?? '?'] ?? 0) + s.value;
  return {
    heartbeats: requests('RecordActivityTaskHeartbeat') + requests('RecordActivityTaskHeartbeatById'),
    queries: requests('QueryWorkflow'),
    actionTypes,
  };
}

/** `after − before` of each key. */
const delta = (after: Record<string, number>, before: Record<string, number>) =>
  Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - (before[k] ?? 0)]));

async function measure(stack: Stack, metricsPort: number, batchId: string, offset: number) {
  const urls = Array.from({ length: URLS }, (_, i) => `${stack.demoOrigin}/p/${offset + i + 1}`);
  const before = serverCounts(await scrapeMetrics(metricsPort));
  const flow = await timedBatch(stack, batchId, urls, { mode: 'fast', concurrency: CONCURRENCY });
  const after = serverCounts(await scrapeMetrics(metricsPort));
  const pages = flow.final.pages?.total ?? 0;
  const ids = [batchId, ...Array.from({ length: pages }, (_, k) => pageWorkflowId(batchId, k))];
  const eventTypes: Record<string, number> = {};
  const actions: Record<string, number> = {};
  const byWorkflow = { batch: { events: 0, actions: 0 }, pages: { events: 0, actions: 0 } };
  let runs = 0;
  let bytes = 0;
  for (const id of ids) {
    for (const { events, bytes: size } of await runHistories(stack.client, id)) {
      runs += 1;
      bytes += size;
      const own = cloudActions(events);
      addCounts(actions, own);
      for (const event of events) {
        const type = eventTypeName(event);
        eventTypes[type] = (eventTypes[type] ?? 0) + 1;
      }
      const slot = id === batchId ? byWorkflow.batch : byWorkflow.pages;
      slot.events += events.length;
      slot.actions += sumCounts(own);
    }
  }
  const heartbeats = after.heartbeats - before.heartbeats;
  const queries = after.queries - before.queries;
  const historyActions = sumCounts(actions);
  const events = sumCounts(eventTypes);
  const allActions = historyActions + heartbeats + queries;
  return {
    urls: URLS,
    succeeded: flow.ok,
    failed: flow.final.counts.failed + flow.final.counts.dead_lettered,
    rateLimited: flow.final.rateLimited,
    seconds: +flow.seconds.toFixed(1),
    workflows: ids.length,
    runs,
    events,
    eventsPerUrl: +(events / URLS).toFixed(3),
    historyBytesPerUrl: Math.round(bytes / URLS),
    actions: allActions,
    actionsPerUrl: +(allActions / URLS).toFixed(3),
    /** Without heartbeats: what the Web UI's "Billable Actions" estimate would show. */
    historyActionsPerUrl: +(historyActions / URLS).toFixed(3),
    heartbeatsPerUrl: +(heartbeats / URLS).toFixed(3),
    queries,
    /** The dev server's own `action` metric (its estimate of Cloud Actions, by type), per URL. */
    serverActionMetricPerUrl: +(sumCounts(delta(after.actionTypes, before.actionTypes)) / URLS).toFixed(3),
    serverActionTypesPerUrl: perUrl(delta(after.actionTypes, before.actionTypes)),
    eventTypesPerUrl: perUrl(eventTypes),
    actionsPerUrlByRule: perUrl({ ...actions, ...(heartbeats ? { heartbeat: heartbeats } : {}) }),
    perUrlByWorkflow: {
      batch: {
        events: +(byWorkflow.batch.events / URLS).toFixed(3),
        actions: +(byWorkflow.batch.actions / URLS).toFixed(3),
      },
      pages: {
        events: +(byWorkflow.pages.events / URLS).toFixed(3),
        actions: +(byWorkflow.pages.actions / URLS).toFixed(3),
      },
    },
  };
}

export async function run(): Promise<Record<string, unknown>> {
  const metricsPort = await freePort();
  const stack = await startStack({ concurrency: CONCURRENCY, devServer: { metricsPort } });
  try {
    await stack.startWorker();
    const latency = { match: `${stack.demoOrigin}/p/*`, action: 'latency', latencyMs: LATENCY_MS };
    await stack.admin('PUT', '/admin/faults', { rules: LATENCY_MS ? [latency] : [] });
    await timedBatch(
      stack,
      'cost-warm',
      Array.from({ length: CONCURRENCY }, (_, i) => `${stack.demoOrigin}/p/${900_000 + i}`),
      { mode: 'fast', concurrency: CONCURRENCY },
    );
    const clean = await measure(stack, metricsPort, 'cost-clean', 0);
    // The 429 rule comes first: a call it answers takes no latency; the others do.
    const tooMany = {
      match: `${stack.demoOrigin}/p/*`,
      action: 'status',
      status: 429,
      retryAfterSec: 0,
      fraction: 0.1,
      seed: 13,
      endpoints: ['scrape'],
    };
    await stack.admin('PUT', '/admin/faults', { rules: [tooMany, ...(LATENCY_MS ? [latency] : [])] });
    const with429 = await measure(stack, metricsPort, 'cost-429', 100_000);
    const met = {
      eventsPerUrl: clean.eventsPerUrl <= 4 && with429.eventsPerUrl <= 4,
      actionsPerUrl: clean.actionsPerUrl <= 1.5 && with429.actionsPerUrl <= 1.5,
    };
    return {
      target: '<= 4 history events and <= 1.5 Temporal Cloud Actions per URL',
      met,
      concurrency: CONCURRENCY,
      latencyMs: LATENCY_MS,
      clean,
      with429,
    };
  } finally {
    await stack.stop();
  }
}

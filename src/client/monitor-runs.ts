/**
 * What monitors report: `describe` (spec, schedule state, next runs, last runs, skips, this month's
 * credits and the estimate), `list`, `runs`, `changes`, `history`, `costs`; and `trigger`, which starts a
 * run now and names its batch.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { ScheduleOverlapPolicy, type Client } from '@temporalio/client';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { canAct, type Principal } from '../auth/principal.js';
import { highestPriceOf } from '../omniscrape/prices.js';
import type { ResultStore } from '../store/types.js';
import { monthOf, monthSpend } from '../monitors/finish.js';
import {
  CHANGE_STATUSES,
  monitorRunId,
  scheduleIdOf,
  type ChangeStatus,
  type MonitorRun,
  type MonitorSpec,
  type Observation,
} from '../monitors/types.js';
import type { MonitorRunResult } from '../workflows/monitor.js';
import { stringify } from 'csv-stringify/sync';
import { ValidationError } from '../errors.js';
import { CSV_OPTIONS } from './results.js';
import { monitorStore, requireMonitor } from './monitors.js';
import { textDiffOf, type TextDiff } from '../monitors/text-diff.js';

const ScheduledStartAttr = defineSearchAttributeKey(
  'TemporalScheduledStartTime',
  SearchAttributeType.DATETIME,
);
const MONTH_MS = 30 * 24 * 60 * 60 * 1000;

export interface MonitorDescription {
  spec: MonitorSpec;
  schedule: {
    id: string;
    paused: boolean;
    note?: string;
    nextRuns: string[];
    runsTaken: number;
    skippedOverlap: number;
    missedCatchupWindow: number;
    running: string[];
  };
  lastRuns: MonitorRun[];
  creditsThisMonth: number;
  /** URLs × the mode's highest price × runs a month; null until a sitemap monitor's first run. */
  estimatedCreditsPerMonth: number | null;
}

/** Runs a month, from the schedule's next action times (their mean gap). */
function runsPerMonth(next: readonly Date[], every?: number): number {
  if (every) return MONTH_MS / every;
  if (next.length < 2) return 0;
  const first = next[0] as Date;
  const last = next.at(-1) as Date;
  const gap = (last.getTime() - first.getTime()) / (next.length - 1);
  return gap > 0 ? MONTH_MS / gap : 0;
}

export async function describeMonitor(
  client: Client,
  store: ResultStore,
  name: string,
  principal?: Principal,
): Promise<MonitorDescription> {
  const spec = await requireMonitor(store, name, principal);
  const { state, info, spec: scheduleSpec } = await client.schedule.getHandle(scheduleIdOf(name)).describe();
  const monitors = monitorStore(store);
  const lastRuns = await monitors.listRuns(name, 10);
  const urls =
    spec.input.kind === 'urls'
      ? spec.input.count
      : lastRuns.find((r) => r.counts)?.counts
        ? Object.values(lastRuns.find((r) => r.counts)?.counts ?? {}).reduce((a, b) => a + b, 0)
        : undefined;
  const everyMs = scheduleSpec.intervals?.[0]?.every;
  const perMonth = runsPerMonth(info.nextActionTimes, typeof everyMs === 'number' ? everyMs : undefined);
  const price = highestPriceOf(spec.options, spec.options.steps);
  return {
    spec,
    schedule: {
      id: scheduleIdOf(name),
      paused: state.paused,
      ...(state.note ? { note: state.note } : {}),
      nextRuns: info.nextActionTimes.slice(0, 5).map((d) => d.toISOString()),
      runsTaken: info.numActionsTaken,
      skippedOverlap: info.numActionsSkippedOverlap,
      missedCatchupWindow: info.numActionsMissedCatchupWindow,
      running: info.runningActions.map((a) => a.workflow.workflowId),
    },
    lastRuns,
    creditsThisMonth: await monthSpend(monitors, name, monthOf(new Date().toISOString())),
    estimatedCreditsPerMonth: urls === undefined ? null : Math.round(urls * price * perMonth),
  };
}

/** Every monitor the principal may act on. */
export async function listMonitors(store: ResultStore, principal?: Principal): Promise<MonitorSpec[]> {
  const all = await monitorStore(store).list();
  return principal ? all.filter((m) => canAct(principal, m.account)) : all;
}

export async function monitorRuns(store: ResultStore, name: string, principal?: Principal) {
  await requireMonitor(store, name, principal);
  return monitorStore(store).listRuns(name);
}

/** `--status new,changed` → the statuses, or a ValidationError naming the unknown one. */
export function parseStatuses(text: string | undefined): ChangeStatus[] | undefined {
  if (!text) return undefined;
  const statuses = text.split(',').map((s) => s.trim());
  for (const s of statuses)
    if (!(CHANGE_STATUSES as readonly string[]).includes(s))
      throw new ValidationError(
        `status: ${JSON.stringify(s)} is not one of ${CHANGE_STATUSES.join(', ')}`,
        'status',
      );
  return statuses as ChangeStatus[];
}

/** One row of `monitor changes` / `history`. */
export interface ChangeRow {
  url: string;
  batchId: string;
  status: ChangeStatus;
  reason?: string;
  diff: Record<string, { previous: unknown; current: unknown }>;
  fields?: Record<string, string | null>;
  observedAt: string;
  previousObservedAt?: string;
  charged: number;
  /** With `--diff`: a changed text content's unified diff, or why there is none. */
  textDiff?: TextDiff['textDiff'];
  textDiffUnavailable?: TextDiff['textDiffUnavailable'];
}

export const changeRow = (o: Observation): ChangeRow => ({
  url: o.url,
  batchId: o.batchId,
  status: o.status,
  ...(o.reason ? { reason: o.reason } : {}),
  diff: o.diff ?? {},
  ...(o.status !== 'removed' && o.status !== 'not_observed' && o.baseline?.fields
    ? { fields: o.baseline.fields }
    : {}),
  observedAt: o.observedAt,
  ...(o.previousObservedAt ? { previousObservedAt: o.previousObservedAt } : {}),
  charged: o.charged,
});

/** A run's observations (`run`), or every run's since a time; the latest run's by default. */
export async function* monitorChanges(
  store: ResultStore,
  name: string,
  query: {
    run?: string;
    since?: Date;
    statuses?: ChangeStatus[];
    principal?: Principal;
    /** Add the text diff of each changed text content (outputFormat html). */
    textDiff?: boolean;
  },
): AsyncIterable<ChangeRow> {
  await requireMonitor(store, name, query.principal);
  const monitors = monitorStore(store);
  const filter = query.statuses ? { statuses: query.statuses } : undefined;
  const rowOf = async (o: Observation): Promise<ChangeRow> =>
    query.textDiff ? { ...changeRow(o), ...(await textDiffOf(store, o)) } : changeRow(o);
  if (query.since) {
    for await (const o of monitors.since(name, query.since.toISOString(), filter)) yield rowOf(o);
    return;
  }
  const run = query.run ?? (await monitors.listRuns(name, 1))[0]?.batchId;
  if (!run) return;
  for await (const o of monitors.runObservations(name, run, filter)) yield rowOf(o);
}

export async function* monitorHistory(
  store: ResultStore,
  name: string,
  url: string,
  query: { field?: string; principal?: Principal } = {},
): AsyncIterable<ChangeRow> {
  await requireMonitor(store, name, query.principal);
  for await (const o of monitorStore(store).history(name, url)) {
    const row = changeRow(o);
    if (query.field) {
      const { [query.field]: diff } = row.diff;
      const value = row.fields?.[query.field];
      yield { ...row, diff: diff ? { [query.field]: diff } : {}, fields: { [query.field]: value ?? null } };
    } else yield row;
  }
}

/** Credits per URL (SKU) over the kept observations, or per run. */
export async function monitorCosts(
  store: ResultStore,
  name: string,
  by: 'url' | 'run',
  principal?: Principal,
): Promise<Array<{ key: string; credits: number }>> {
  await requireMonitor(store, name, principal);
  const monitors = monitorStore(store);
  if (by === 'run')
    return (await monitors.listRuns(name)).map((r) => ({ key: r.batchId, credits: r.credits ?? 0 }));
  return [...(await monitors.costsByUrl(name))].map(([key, credits]) => ({ key, credits }));
}

export interface TriggeredRun {
  /** The run's batch id; undefined when the trigger was skipped (a run is still going). */
  batchId?: string;
  workflowId?: string;
  skipped: boolean;
}

/**
 * Starts a run now, under the schedule's overlap policy (SKIP: while a run is going, the trigger is
 * skipped and counted like a scheduled one). Waits (bounded) until the schedule shows the start or the
 * skip, and reads the run's scheduled time from its workflow, the same value the run names its batch by.
 */
export async function triggerMonitor(
  client: Client,
  store: ResultStore,
  name: string,
  principal?: Principal,
): Promise<TriggeredRun> {
  await requireMonitor(store, name, principal);
  const handle = client.schedule.getHandle(scheduleIdOf(name));
  const before = (await handle.describe()).info;
  await handle.trigger(ScheduleOverlapPolicy.SKIP);
  for (let i = 0; i < 200; i++) {
    const { info } = await handle.describe();
    if (info.numActionsSkippedOverlap > before.numActionsSkippedOverlap) return { skipped: true };
    if (info.numActionsTaken > before.numActionsTaken) {
      const action = info.recentActions.at(-1)?.action;
      if (!action) break;
      const workflowId = action.workflow.workflowId;
      const described = await client.workflow.getHandle(workflowId).describe();
      const at = described.typedSearchAttributes.get(ScheduledStartAttr) ?? described.startTime;
      return { batchId: monitorRunId(name, at), workflowId, skipped: false };
    }
    await sleep(50);
  }
  throw new Error(`the schedule of monitor ${name} shows neither a start nor a skip after the trigger`);
}

/** Waits for a run's workflow (the batch and its change tracking) to end. */
export function waitForRun(client: Client, workflowId: string): Promise<MonitorRunResult> {
  return client.workflow.getHandle(workflowId).result() as Promise<MonitorRunResult>;
}

export const CHANGE_COLUMNS = [
  'url',
  'batchId',
  'status',
  'reason',
  'diff',
  'fields',
  'observedAt',
  'previousObservedAt',
  'charged',
] as const;

/** The CSV columns `--diff` adds. */
export const TEXT_DIFF_COLUMNS = ['textDiff', 'textDiffUnavailable'] as const;

/**
 * Change rows as JSONL or CSV text (CSV: `diff` and `fields` as JSON cells, formulas escaped; the
 * text diff columns with `textDiff`).
 */
export async function* formatChanges(
  rows: AsyncIterable<ChangeRow>,
  format: 'jsonl' | 'csv',
  textDiff = false,
): AsyncIterable<string> {
  const columns = textDiff ? [...CHANGE_COLUMNS, ...TEXT_DIFF_COLUMNS] : [...CHANGE_COLUMNS];
  if (format === 'csv') yield stringify([columns], CSV_OPTIONS);
  for await (const row of rows)
    yield format === 'csv'
      ? stringify([columns.map((c) => row[c])], CSV_OPTIONS)
      : `${JSON.stringify(row)}\n`;
}

/**
 * The end of a monitor run, after its change tracking: the run's row, its events (with the schedule's
 * overlap skips not reported yet), the month budget (pauses the schedule with reason `budget`), and
 * retention. Each step is idempotent, so the activity may run again.
 */
import type { Client } from '@temporalio/client';
import type { EventDraft, EventSink } from '../events/types.js';
import type { Logger } from '../logging/logger.js';
import type { MonitorStore } from './store.js';
import { changesDraft, REPORTED, subjectOf } from './events.js';
import {
  MONITOR_DEFAULTS,
  scheduleIdOf,
  type ChangeStatus,
  type MonitorSpec,
  type Observation,
} from './types.js';

export interface FinishRunOptions {
  monitors: MonitorStore;
  spec: MonitorSpec;
  input: {
    name: string;
    batchId: string;
    scheduledAt: string;
    counts: Record<ChangeStatus, number>;
    credits: number;
    batchState: string;
  };
  client?: Client;
  events?: EventSink;
  logger: Logger;
  /** @default now */
  now?: Date;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/** `2026-12` of an ISO time: the budget month (UTC). */
export const monthOf = (iso: string): string => iso.slice(0, 7);

/** Credits the monitor's runs scheduled in `month` spent. */
export async function monthSpend(monitors: MonitorStore, name: string, month: string): Promise<number> {
  const runs = await monitors.listRuns(name, Number.MAX_SAFE_INTEGER);
  return runs.filter((r) => monthOf(r.scheduledAt) === month).reduce((sum, r) => sum + (r.credits ?? 0), 0);
}

async function recordChanges(options: FinishRunOptions, sink: EventSink): Promise<void> {
  const { input, spec } = options;
  const base = { name: input.name, batchId: input.batchId, account: spec.account };
  let chunk: Observation[] = [];
  let n = 0;
  let drafts: EventDraft[] = [];
  for await (const row of options.monitors.runObservations(input.name, input.batchId, {
    statuses: REPORTED,
  })) {
    chunk.push(row);
    if (chunk.length < MONITOR_DEFAULTS.changesPerEvent) continue;
    drafts.push(changesDraft(base, n++, chunk));
    chunk = [];
    // A 100,000-URL run's changes are recorded a few events at a time, never all held at once.
    if (drafts.length >= 10) {
      await sink.record(drafts);
      drafts = [];
    }
  }
  if (chunk.length > 0) drafts.push(changesDraft(base, n++, chunk));
  if (drafts.length > 0) await sink.record(drafts);
}

/**
 * Overlap skips of the schedule not reported yet, as `monitor.run.skipped` drafts, and the count to
 * mark reported once they are recorded (marked before, a crash in between would lose them for good).
 */
async function skippedDrafts(options: FinishRunOptions): Promise<{ drafts: EventDraft[]; skipped: number }> {
  const { client, spec } = options;
  const reported = spec.state.skipsReported;
  if (!client) return { drafts: [], skipped: reported };
  const { info } = await client.schedule.getHandle(scheduleIdOf(spec.name)).describe();
  const skipped = info.numActionsSkippedOverlap;
  if (skipped <= reported) return { drafts: [], skipped: reported };
  const drafts = Array.from({ length: skipped - reported }, (_, i) => ({
    id: `${spec.name}.skipped.${reported + i + 1}`,
    type: 'monitor.run.skipped' as const,
    account: spec.account,
    subject: subjectOf(spec.name),
    data: { monitor: spec.name, skipped: reported + i + 1, reason: 'overlap' },
  }));
  return { drafts, skipped };
}

async function markSkipsReported(monitors: MonitorStore, name: string, skipped: number): Promise<void> {
  const current = await monitors.get(name);
  if (!current || current.state.skipsReported >= skipped) return;
  await monitors.put({ ...current, state: { ...current.state, skipsReported: skipped } });
}

/** Pauses the schedule (reason budget) when the month's runs spent its cap; the event's draft if so. */
async function checkBudget(options: FinishRunOptions): Promise<EventDraft | undefined> {
  const { spec, input, monitors, client } = options;
  const cap = spec.maxCreditsPerMonth;
  if (cap === undefined) return undefined;
  const month = monthOf(input.scheduledAt);
  const spent = await monthSpend(monitors, spec.name, month);
  if (spent < cap) return undefined;
  const current = (await monitors.get(spec.name)) ?? spec;
  if (!(current.state.paused && current.state.pauseReason === 'budget')) {
    await client?.schedule
      .getHandle(scheduleIdOf(spec.name))
      .pause(
        `budget: ${spent} of ${cap} credits spent in ${month}; unpause or raise --max-credits-per-month`,
      );
    await monitors.put({ ...current, state: { ...current.state, paused: true, pauseReason: 'budget' } });
    options.logger.warn({ monitor: spec.name, spent, cap, month }, 'monitor paused: month budget spent');
  }
  return {
    // Per month and cap: a pause after the cap was raised is news, not a repeat of the first.
    id: `${spec.name}.paused.${month}.${cap}`,
    type: 'monitor.paused',
    account: spec.account,
    subject: subjectOf(spec.name),
    data: { monitor: spec.name, reason: 'budget', month, spent, maxCreditsPerMonth: cap },
  };
}

export async function finishRun(options: FinishRunOptions): Promise<{ paused: boolean }> {
  const { input, spec, monitors, events } = options;
  const now = options.now ?? new Date();
  const previous = await monitors.getRun(input.name, input.batchId);
  await monitors.putRun({
    monitor: input.name,
    batchId: input.batchId,
    scheduledAt: input.scheduledAt,
    state: 'tracked',
    counts: input.counts,
    credits: input.credits,
    trackedAt: previous?.trackedAt ?? now.toISOString(),
  });
  const skipped = await skippedDrafts(options);
  const paused = await checkBudget(options);
  if (events) {
    await events.record([
      ...skipped.drafts,
      {
        id: `${input.batchId}.completed`,
        type: 'monitor.run.completed',
        account: spec.account,
        subject: subjectOf(spec.name),
        data: {
          monitor: spec.name,
          batchId: input.batchId,
          scheduledAt: input.scheduledAt,
          account: spec.account,
          batchState: input.batchState,
          counts: input.counts,
          credits: input.credits,
        },
      },
    ]);
    await recordChanges(options, events);
    if (paused) await events.record([paused]);
  }
  await markSkipsReported(monitors, spec.name, skipped.skipped);
  await monitors.prune(spec.name, new Date(now.getTime() - spec.retainDays * DAY_MS));
  return { paused: paused !== undefined };
}

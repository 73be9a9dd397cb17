/**
 * The monitor events (`monitor.*` of src/events/types.ts): their data schemas, for the catalogue in the
 * OpenAPI document (src/events/catalogue.ts references them), and the drafts a run emits. Ids come from
 * the business event, so a run tracked or finished again emits the same ids: `<batchId>.completed`,
 * `<batchId>.changes.<chunk>`, `<name>.skipped.<n>` (the n-th overlap skip), `<name>.paused.<month>.<cap>`.
 */
import { z } from 'zod';
import type { EventDraft } from '../events/types.js';
import { CHANGE_STATUSES, type ChangeStatus, type Observation } from './types.js';

const counts = z
  .record(z.enum(CHANGE_STATUSES), z.number().int())
  .describe('URLs of the run by change status');

export const monitorRunCompletedSchema = z
  .object({
    monitor: z.string().describe('the monitor name'),
    batchId: z.string().describe("the run's batch id, `<name>@<scheduled time>`"),
    scheduledAt: z.string().describe('the scheduled time (ISO)'),
    account: z.string(),
    batchState: z.string().describe('how the batch ended: completed, cancelled, failed, or empty'),
    counts,
    credits: z.number().describe('credits the run spent'),
  })
  .describe('a monitor run and its change tracking ended');

export const monitorChangesSchema = z
  .object({
    monitor: z.string(),
    batchId: z.string(),
    chunk: z.number().int().describe('0-based part of the run; at most 500 URLs each'),
    changes: z
      .array(
        z.object({
          url: z.string(),
          status: z.enum(['new', 'changed', 'removed']),
          diff: z
            .record(z.string(), z.object({ previous: z.unknown(), current: z.unknown() }))
            .optional()
            .describe("per field: the baseline value and this run's"),
        }),
      )
      .max(500),
  })
  .describe("the run's new, changed and removed URLs");

export const monitorRunSkippedSchema = z
  .object({
    monitor: z.string(),
    skipped: z.number().int().describe('overlap skips of the schedule so far'),
    reason: z.literal('overlap').describe('a run was still going when the next was due'),
  })
  .describe('a scheduled run was skipped (the overlap policy SKIP)');

export const monitorPausedSchema = z
  .object({
    monitor: z.string(),
    reason: z.literal('budget'),
    month: z.string().describe('the month (UTC, YYYY-MM) whose credits reached the cap'),
    spent: z.number(),
    maxCreditsPerMonth: z.number(),
  })
  .describe("the monitor's schedule paused: its month budget is spent");

/** The data schemas by event type, for src/events/catalogue.ts. */
export const MONITOR_EVENT_SCHEMAS = {
  'monitor.run.completed': monitorRunCompletedSchema,
  'monitor.changes': monitorChangesSchema,
  'monitor.run.skipped': monitorRunSkippedSchema,
  'monitor.paused': monitorPausedSchema,
} as const;

export const subjectOf = (name: string) => `monitor:${name}`;

export const REPORTED: readonly ChangeStatus[] = ['new', 'changed', 'removed'];

/** `monitor.changes` drafts of one chunk of the run's reported URLs. */
export function changesDraft(
  base: { name: string; batchId: string; account: string },
  chunk: number,
  rows: readonly Observation[],
): EventDraft {
  return {
    id: `${base.batchId}.changes.${chunk}`,
    type: 'monitor.changes',
    account: base.account,
    subject: subjectOf(base.name),
    data: {
      monitor: base.name,
      batchId: base.batchId,
      chunk,
      changes: rows.map((r) => ({
        url: r.url,
        status: r.status,
        ...(r.diff ? { diff: r.diff } : {}),
      })),
    },
  };
}

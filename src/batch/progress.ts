/**
 * What a batch reports (`status`, `GET /v1/batches/:id`, the batch workflow's `progress` query): one zod
 * schema from which the TypeScript type and the service's OpenAPI component both come. Workflow code
 * imports the type only (through src/workflows/types.ts), so zod stays out of the workflow bundle.
 */
import { z } from 'zod';
import { TERMINAL_STATUSES } from '../store/types.js';
import { WORKER_ROLES } from '../workers/roles.js';

/**
 * What the batch workflow reports (`running` … `cancelled`), and, for a workflow that closed without
 * completing, what the clients read from its close event: `failed`, `terminated`, `timed_out`, or
 * `cancelled` through Temporal itself (Web UI, `temporal workflow cancel`) before the workflow could
 * record it. The workflow never sets `failed`, `terminated` or `timed_out`.
 */
export const BATCH_STATES = [
  'running',
  'paused',
  'completed',
  'cancelled',
  'failed',
  'terminated',
  'timed_out',
] as const;
export type BatchState = (typeof BATCH_STATES)[number];
/**
 * Why a batch is paused: `auth` (401) and `balance` (402, or the balance fell below
 * `pauseBelowBalance`) wait for an operator; `outage` (OmniScrape unreachable or failing most calls)
 * resumes by itself when a probe gets an answer; `budget` waits for `resume --max-credits`; `manual`.
 */
export const PAUSE_REASONS = ['auth', 'balance', 'manual', 'outage', 'budget'] as const;
export type PauseReason = (typeof PAUSE_REASONS)[number];

const count = z.number().int();

/** A worker role a batch waits for, its task queue, and the line that says how to start one. */
const waitingForSchema = z.object({
  role: z.enum(WORKER_ROLES),
  taskQueue: z.string(),
  message: z
    .string()
    .describe(
      '`waiting for a workflows worker on task queue scrapeflow (start: scrapeflow worker --queue workflows)`',
    ),
});
export type WaitingFor = z.infer<typeof waitingForSchema>;
const credits = z.record(z.string(), z.number());

export const batchProgressSchema = z
  .object({
    batchId: z.string(),
    state: z.enum(BATCH_STATES),
    pauseReason: z
      .enum(PAUSE_REASONS)
      .optional()
      .describe(
        'outage resumes by itself once OmniScrape answers; budget waits for a resume with a higher maxCredits',
      ),
    total: count,
    counts: z.object({
      ...Object.fromEntries(TERMINAL_STATUSES.map((status) => [status, count] as const)),
      in_flight: count,
      pending: count,
    } as Record<(typeof TERMINAL_STATUSES)[number] | 'in_flight' | 'pending', typeof count>),
    credits: z.number(),
    creditsByMethod: credits,
    creditsByTag: credits.describe(
      "credits by cost-attribution tag, from the store's records (the workflows do not carry them: the " +
        'number of distinct tags is unbounded): filled once the batch has ended, empty while it runs',
    ),
    lastBalance: z.number().optional(),
    window: count.describe("URLs the batch's pages may have in flight now (their adaptive windows)"),
    concurrency: count.describe("the batch's ceiling of URLs in flight"),
    rateLimited: count.describe('429 answers seen (sustained 429s shrink the adaptive windows)'),
    waiting: count.describe(
      'URLs waiting for a resume (after a 401, 402 or outage; back in the queue, not failed)',
    ),
    maxCredits: z.number().optional().describe('the credit cap now (`maxCredits`), when the batch has one'),
    pages: z
      .object({ total: count, done: count, running: z.array(z.string()) })
      .optional()
      .describe('page workflows <batchId>/p<k>: how many, how many ended, the ids of those running now'),
    startedAt: z.iso.datetime(),
    endedAt: z.iso.datetime().optional(),
    continuedAsNew: count.describe('times the batch workflow continued as new'),
    priority: count
      .optional()
      .describe(
        "the Temporal task priority the batch's workflow carries (1 most urgent … 5 least), as the server " +
          'describes it; filled by the clients (the workflow does not report it)',
      ),
    duplicates: z
      .object({ lines: count, waiting: count })
      .optional()
      .describe(
        'duplicate lines (src/batch/dedupe.ts): how many the input has (lines), and how many of those the ' +
          'batch has passed that have no record yet (waiting: they get theirs from their first lines’ ' +
          'records when every other URL has ended). While a batch runs, succeeded + failed + ' +
          'dead_lettered + in_flight + pending + duplicates.waiting = total',
      ),
    failure: z
      .string()
      .optional()
      .describe(
        'why the workflow closed without completing (failed, terminated, timed out, cancelled through ' +
          'Temporal): the failure message, the termination reason, redacted; unset when it completed or runs',
      ),
    waitingFor: z
      .array(waitingForSchema)
      .optional()
      .describe(
        'worker roles the running batch waits for: no live worker polls a task queue it needs (filled by ' +
          "the clients from Temporal's pollers, src/client/pollers.ts); unset when none is missing",
      ),
  })
  .describe(
    `state: ${BATCH_STATES.join('|')}. failed, terminated and timed_out: the workflow closed without ` +
      'completing (failure says why). cancelled: cancelled by the cancel route, `scrapeflow cancel` or ' +
      'through Temporal (Web UI), every URL recorded.',
  );

export type BatchProgress = z.infer<typeof batchProgressSchema>;

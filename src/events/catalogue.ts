/**
 * The event catalogue: one zod schema per event type's `data`, with the texts the OpenAPI document's
 * `webhooks` section shows (src/service/openapi.ts). The record activity validates every draft against
 * it before the sink sees it, so an event a receiver gets always matches what the document says.
 */
import { z } from 'zod';
import { BATCH_STATES, PAUSE_REASONS } from '../batch/progress.js';
import { MONITOR_EVENT_SCHEMAS } from '../monitors/events.js';
import { EVENT_TYPES, type EventType } from './types.js';

const count = z.number().int().min(0);

const statusCounts = z
  .object({ succeeded: count, failed: count, dead_lettered: count })
  .describe('URLs with a terminal record, by status');

const batchLinks = z
  .object({
    status: z.url().describe("the batch's progress: `GET` on the HTTP service (base SCRAPEFLOW_PUBLIC_URL)"),
    results: z.url().describe("the batch's records as JSON lines (`?status=failed` for its failures)"),
    webUi: z.url().describe('the batch workflow in the Temporal Web UI (base TEMPORAL_UI_URL)'),
  })
  .describe('where to read more: the HTTP service and the Temporal Web UI');

/** What every batch-level event carries. */
const batchFields = {
  batchId: z.string().describe('the batch id (also its workflow id)'),
  account: z.string().describe('the OmniScrape account label the batch runs under'),
  state: z.enum(BATCH_STATES).describe('the batch state once the event happened'),
  total: count.describe('URLs in the batch input'),
  counts: statusCounts,
  credits: z.number().min(0).describe('credits charged so far'),
  links: batchLinks,
};

const batchData = z.object(batchFields);

/** Most failed URLs a page event lists; the rest are in its results link. */
export const PAGE_FAILURES_LISTED = 100;

const pageFailure = z.object({
  index: count.describe("the URL's 0-based line in the batch input"),
  url: z.string().describe('the URL, without `user:pass@`'),
  status: z.enum(['failed', 'dead_lettered']),
  reason: z.string().describe('why: an error code such as `rate_limited`, `scrape_failed`, `page_ended`'),
});

const pageData = z.object({
  batchId: batchFields.batchId,
  account: batchFields.account,
  page: count.describe('0-based page number; the page workflow is `<batchId>/p<page>`'),
  from: count.describe('first input line of the page'),
  to: count.describe('input line after the last of the page'),
  counts: statusCounts.describe("the page's URLs with a terminal record, by status"),
  credits: z.number().min(0).describe('credits the page charged'),
  failures: z
    .array(pageFailure)
    .max(PAGE_FAILURES_LISTED)
    .describe(`the page's failed and dead-lettered URLs in line order, the first ${PAGE_FAILURES_LISTED}`),
  failuresOmitted: count.describe(
    'failed and dead-lettered URLs of the page not listed (see links.failures)',
  ),
  links: batchLinks
    .extend({ failures: z.url().describe("the batch's failed records (`results?status=failed`)") })
    .describe("the batch's links, and its failed records"),
});

const lowBalanceData = z.object({
  account: batchFields.account,
  balance: z.number().describe('the balance OmniScrape reported after a call (`billing.balance_after`)'),
  threshold: z.number().describe('LOW_BALANCE_THRESHOLD of the worker that saw it'),
  batchId: z.string().describe('the batch whose call reported the balance'),
});

export const EVENT_CATALOGUE = {
  'batch.started': {
    summary: 'A batch started (its first run; not on continue-as-new or a worker restart).',
    data: batchData.extend({
      pages: count.describe('pages of `pageSize` URLs the batch runs as page workflows'),
    }),
  },
  'batch.paused': {
    summary:
      'A batch paused: an operator (`manual`), a 401 (`auth`), an exhausted balance (`balance`), an ' +
      'OmniScrape outage (`outage`, resumes by itself) or its credit cap (`budget`); also when another ' +
      "batch of its account met a 401, 402 or outage. The id's last part counts the batch's pauses.",
    data: batchData.extend({
      reason: z.enum(PAUSE_REASONS).describe('why the batch paused'),
      message: z.string().describe('what stopped the batch and what fixes it'),
    }),
  },
  'batch.resumed': {
    summary:
      'A paused batch resumed (an operator, or the outage probe); pairs with the pause of the same number.',
    data: batchData.extend({ reason: z.enum(PAUSE_REASONS).describe('what it had paused for') }),
  },
  'batch.page.completed': {
    summary:
      'A page of the batch ended: its counts, credits and failed or dead-lettered URLs (the first ' +
      `${PAGE_FAILURES_LISTED}; the rest through links.failures).`,
    data: pageData,
  },
  'batch.completed': {
    summary: 'Every URL of the batch has its terminal record.',
    data: batchData,
  },
  'batch.failed': {
    summary: 'The batch workflow failed (a broken invariant such as an input shorter than announced).',
    data: batchData.extend({ error: z.string().describe('why, as the workflow failure says it') }),
  },
  'batch.cancelled': {
    summary: 'The batch was cancelled; every URL without a record got `failed(cancelled)`.',
    data: batchData,
  },
  'account.low_balance': {
    summary:
      "An account's OmniScrape balance fell below LOW_BALANCE_THRESHOLD (once per crossing; again after a top-up).",
    data: lowBalanceData,
  },
  'monitor.run.completed': {
    summary: 'A monitor run (a batch) ended and its changes were tracked.',
    data: MONITOR_EVENT_SCHEMAS['monitor.run.completed'],
  },
  'monitor.changes': {
    summary: "A monitor run's new, changed and removed URLs (at most 500 an event).",
    data: MONITOR_EVENT_SCHEMAS['monitor.changes'],
  },
  'monitor.run.skipped': {
    summary: 'A scheduled monitor run was skipped: the one before was still going.',
    data: MONITOR_EVENT_SCHEMAS['monitor.run.skipped'],
  },
  'monitor.paused': {
    summary: "A monitor's schedule paused: its month budget is spent.",
    data: MONITOR_EVENT_SCHEMAS['monitor.paused'],
  },
} as const satisfies Record<EventType, { summary: string; data: z.ZodType }>;

export type EventData<T extends EventType> = z.infer<(typeof EVENT_CATALOGUE)[T]['data']>;
export type BatchLinks = z.infer<typeof batchLinks>;
export type PageFailure = z.infer<typeof pageFailure>;

/** The envelope every delivery carries (`WebhookEvent`), with `data` as given. */
export function envelopeSchema(type: EventType | 'ping', data: z.ZodType) {
  return z.object({
    id: z.string().describe('derived from the business event: the same on every retry and re-emission'),
    type: z.literal(type),
    timestamp: z.iso.datetime().describe('when the event was first recorded'),
    sequence: z
      .number()
      .int()
      .min(1)
      .describe('1, 2, 3… per subject (a batch, a monitor, an account): a gap means a missed event'),
    data,
  });
}

/** Issues with a draft's data, as `data.<path>: <message>` lines; empty when it matches its type's schema. */
export function checkEventData(type: EventType, data: unknown): string[] {
  const parsed = EVENT_CATALOGUE[type].data.safeParse(data);
  return parsed.success
    ? []
    : parsed.error.issues.map((issue) => `data.${issue.path.join('.')}: ${issue.message}`);
}

export { EVENT_TYPES };

/**
 * Types and names shared by the workflows, the activities and the clients. Pure: no I/O.
 */
import type { Step } from '../batch/steps.js';
import type { RetryMatrixConfig } from '../omniscrape/retry-matrix.js';
import type { OutputFormat, ScrapeMode } from '../omniscrape/types.js';
import type { TerminalStatus, UrlItem } from '../store/types.js';

export const TASK_QUEUES = {
  /** Workflows and bookkeeping activities (store reads and writes). */
  control: 'scrapeflow',
  /** OmniScrape HTTP calls, each holding a plan permit of its account (src/omniscrape/permits.ts). */
  scrape: 'scrape',
  /** Browser (BaaS) sessions. */
  browser: 'browser',
} as const;

/** A field the optional extraction schema checks before a record is stored. */
export interface FieldRule {
  type: 'string' | 'number' | 'integer';
  /** A missing (null or empty) value dead-letters the URL. @default true */
  required?: boolean;
}

/** How the page workflow polls an async job. */
export interface PollingConfig {
  /** First wait before polling, ms. @default 2000 */
  initialMs: number;
  /** Growth per turn. @default 1.5 */
  factor: number;
  /** Longest wait between polls, ms. @default 10000 */
  maxMs: number;
  /** Total wait before the URL fails as `render_timeout`, ms. @default 120000 */
  budgetMs: number;
}

/** Per-batch options, validated by `batchOptionsSchema` when the batch starts. */
export interface BatchOptions {
  mode: ScrapeMode;
  outputFormat: OutputFormat;
  cssSelectors?: Record<string, string>;
  enableSolver: boolean;
  jsWaitSelector?: string;
  jsWaitTimeoutMs?: number;
  /** When URLs use the async job flow: only after two timeouts, also for every js_rendering URL, or always. */
  asyncFlow: 'on_timeout' | 'js_rendering' | 'always';
  /**
   * URLs in flight at once across the batch's pages (the sum of their windows' ceilings), those waiting
   * for a plan permit included: the plan, not this, bounds the account's calls at OmniScrape.
   * @default twice the plan's concurrency (`parseBatchOptions`)
   */
  concurrency: number;
  /** Input lines per page workflow. @default 500 */
  pageSize: number;
  /**
   * Page workflows in flight at once; the concurrency is shared among them. A batch with `maxCredits`
   * runs one page at a time, so that the whole budget is known to the page that spends it. @default 4
   */
  pagesInFlight: number;
  /**
   * Most credits the batch may spend: it pauses with reason `budget` before a call could take it over
   * (each call in flight holds the highest price its method can cost). @default unset (no cap)
   */
  maxCredits?: number;
  /** Shrink the window on 429s and grow it back (AIMD). */
  adaptive: boolean;
  /** Cost-attribution tags for every URL of the batch. */
  tags: string[];
  /**
   * The OmniScrape account label the batch spends from (for account-wide pause; never the key). Also
   * the Temporal fairness key of the batch's tasks (src/workflows/priority.ts): accounts take turns on
   * shared task queues.
   */
  account: string;
  /**
   * Temporal task priority (`priorityKey`) of every task of the batch: 1 is the most urgent, 5 the
   * least. When workers are the bottleneck, backlogged tasks of a lower number go first, so an urgent
   * batch overtakes a big one already running. Optional here only for inputs built by hand and
   * batches started before it existed. @default 3 (Temporal's own default)
   */
  priority?: number;
  schema?: Record<string, FieldRule>;
  /**
   * Show each URL as its activities' summary in the Web UI (user metadata, which payload encryption
   * does not cover, so `startBatch` turns this off when payloads are encrypted). @default true
   */
  searchableUrls?: boolean;
  /** The store the batch's input went to (set by `startBatch`); workers with another store refuse it. */
  storeId?: string;
  /**
   * Random per start (set by `startBatch`, never by the user; not a secret): the URLs' OmniScrape
   * idempotency keys are built from it, so two batches' keys never collide, whatever their ids and
   * whichever namespace or deployment started them.
   */
  idempotencyScope?: string;
  /** Pause (the whole account) when a reported balance falls below this, before a 402 happens. */
  pauseBelowBalance?: number;
  retry: RetryMatrixConfig;
  polling: PollingConfig;
  /**
   * Activity timeouts, ms. `scrapeMs`: one HTTP call (the HTTP client's own timeout is a little
   * shorter). `permitWaitMs`: how long a call may wait for a plan permit of its account before its URL
   * goes back to the page's queue (`PlanBusyError`); a scrape activity's start-to-close is the sum of
   * both, so the wait never shortens the call. `browserMs`: one BaaS session with its steps, which takes
   * longer than a call. `heartbeatMs`: how soon a dead worker's call is noticed.
   */
  timeouts: { scrapeMs: number; heartbeatMs: number; browserMs: number; permitWaitMs?: number };
  /**
   * Page interactions (src/batch/steps.ts). When set, every URL of the batch runs in a browser (BaaS)
   * session on the `browser` task queue instead of the scrape API; an input item's own `steps` replace
   * them for that URL (`stepsOf`). @default unset (HTTP path, except for items with steps)
   */
  steps?: Step[];
  /**
   * Scrape a URL that appears on several lines of the input once (its first line); every later line
   * gets a record pointing at the first (`duplicateOf`), charged 0 (src/batch/dedupe.ts). Optional
   * here only for inputs built by hand. @default true
   */
  dedupe?: boolean;
}

/** One URL's work as its activities receive it: everything they need, nothing they do not. */
export interface UrlTask {
  batchId: string;
  item: UrlItem;
  options: BatchOptions;
}

/** What an activity that ends a URL returns to its page: small, never a page body. */
export interface UrlSummary {
  index: number;
  status: TerminalStatus;
  reason?: string;
  charged: number;
  methodUsed?: string;
  balanceAfter?: number;
  attempts: number;
}

/**
 * What the batch workflow reports (`running` … `cancelled`), and, for a workflow that closed without
 * completing, what the clients read from its close event: `failed`, `terminated`, `timed_out`, or
 * `cancelled` through Temporal itself (Web UI, `temporal workflow cancel`) before the workflow could
 * record it. The workflow never sets `failed`, `terminated` or `timed_out`.
 */
export type BatchState =
  'running' | 'paused' | 'completed' | 'cancelled' | 'failed' | 'terminated' | 'timed_out';
/**
 * Why a batch is paused: `auth` (401) and `balance` (402, or the balance fell below
 * `pauseBelowBalance`) wait for an operator; `outage` (OmniScrape unreachable or failing most calls)
 * resumes by itself when a probe gets an answer; `budget` waits for `resume --max-credits`; `manual`.
 */
export const PAUSE_REASONS = ['auth', 'balance', 'manual', 'outage', 'budget'] as const;
export type PauseReason = (typeof PAUSE_REASONS)[number];

/** URL counts by terminal status. */
export type StatusCounts = Record<TerminalStatus, number>;

export interface BatchProgress {
  batchId: string;
  state: BatchState;
  pauseReason?: PauseReason;
  total: number;
  counts: StatusCounts & { in_flight: number; pending: number };
  credits: number;
  creditsByMethod: Record<string, number>;
  /**
   * Credits by cost-attribution tag, from the store's records (the workflows do not carry them: the
   * number of distinct tags is unbounded). Filled for a closed batch; empty while it runs.
   */
  creditsByTag: Record<string, number>;
  lastBalance?: number;
  /** URLs the batch's pages may have in flight now (their adaptive windows), and the batch's ceiling. */
  window: number;
  concurrency: number;
  /** 429 answers seen (sustained 429s shrink the adaptive windows). */
  rateLimited: number;
  /** URLs waiting for `resume` (after a 401, 402 or outage; back in the queue, not failed). */
  waiting: number;
  /** The batch's credit cap (`maxCredits`), when it has one. */
  maxCredits?: number;
  /** Pages of the input: how many, how many ended, and the ids of those running now. */
  pages?: { total: number; done: number; running: string[] };
  startedAt: string;
  endedAt?: string;
  continuedAsNew: number;
  /**
   * The Temporal task priority the batch's workflow carries (1 most urgent … 5), as the server
   * describes it; filled by `getProgress` (the workflow does not report it).
   */
  priority?: number;
  /**
   * Duplicate lines (src/batch/dedupe.ts): how many the input has (`lines`), and how many of those the
   * batch has passed that have no record yet (`waiting`: they get theirs from their first lines' records
   * when every other URL has ended). While a batch runs, succeeded + failed + dead_lettered + in_flight +
   * pending + duplicates.waiting = total.
   */
  duplicates?: { lines: number; waiting: number };
  /**
   * Why the workflow closed without completing (failed, terminated, timed out, cancelled through
   * Temporal): the failure message, the termination reason, and so on, redacted. Unset when the
   * workflow completed or still runs.
   */
  failure?: string;
}

export interface BatchWorkflowInput {
  batchId: string;
  options: BatchOptions;
  /** Input size, known when the batch starts. */
  total: number;
  /** How many input lines are duplicates (`UrlItem.duplicateOf`). @default 0 */
  duplicates?: number;
  /** State carried across continue-as-new (no page is in flight then). */
  carried?: CarriedBatchState;
}

export interface CarriedBatchState {
  /** The next page to start. */
  nextPage: number;
  progress: BatchProgress;
  paused: boolean;
  cancelled: boolean;
  /** The credit cap now (raised by `resume --max-credits`). */
  maxCredits?: number;
}

/** A page workflow's work: input lines [offset, offset + size) of its batch. */
export interface PageWorkflowInput {
  batchId: string;
  options: BatchOptions;
  /** 0-based page number (`<batchId>/p<page>`). */
  page: number;
  offset: number;
  size: number;
  /** URLs of this page in flight at once: its share of the batch's concurrency. */
  window: number;
  /** Credits this page may spend (the batch's budget left), when the batch has a cap. */
  allowance?: number;
  /** The batch was paused (with this reason) when the page started or continued as new. */
  pausedFor?: PauseReason;
  carried?: CarriedPageState;
}

/** What a page carries across continue-as-new (it drains its URLs first). */
export interface CarriedPageState {
  cursor: number;
  summary: PageSummary;
  windowSize: number;
  completionsSinceDecrease: number;
  ratePressure: number;
  lastResumeAt?: number;
}

/** What a page reports to its batch when it ends. */
export interface PageSummary {
  page: number;
  counts: StatusCounts;
  /** Duplicate lines of the page: not scraped, recorded by the batch at its end. */
  duplicates: number;
  credits: number;
  creditsByMethod: Record<string, number>;
  rateLimited: number;
  lastBalance?: number;
  continuedAsNew: number;
}

/** A page's live state (`pageProgress` query), which clients add to their batch's. */
export interface PageProgress extends PageSummary {
  inFlight: number;
  waiting: number;
  /** URLs of the page not started yet (duplicates excluded). */
  pending: number;
  window: number;
  paused?: PauseReason;
}

/** The page workflow of page `page`: `<batchId>/p<page>`. */
export const pageWorkflowId = (batchId: string, page: number): string => `${batchId}/p${page}`;

/**
 * The steps a URL runs in a browser session: its input item's own (`UrlItem.steps`), else the batch's
 * (`BatchOptions.steps`). Undefined (or empty) means the HTTP scrape path. Pure, so the page workflow
 * routes with it and the browser activity runs what it returns.
 */
export const stepsOf = (task: Pick<UrlTask, 'item' | 'options'>): Step[] | undefined =>
  task.item.steps ?? task.options.steps;

/** `timeouts.permitWaitMs` when a batch's options lack it (they were stored before it existed). */
export const DEFAULT_PERMIT_WAIT_MS = 60_000;

/** How long a call of the batch may wait for a plan permit (`timeouts.permitWaitMs`). */
export const permitWaitOf = (options: Pick<BatchOptions, 'timeouts'>): number =>
  options.timeouts.permitWaitMs ?? DEFAULT_PERMIT_WAIT_MS;

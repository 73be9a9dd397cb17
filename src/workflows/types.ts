/**
 * Types and names shared by the workflows, the activities and the clients. Pure: no I/O.
 */
import type { Step } from '../batch/steps.js';
import type { RetryMatrixConfig } from '../omniscrape/errors.js';
import type { OutputFormat, ScrapeMode } from '../omniscrape/types.js';
import type { TerminalStatus, UrlItem } from '../store/types.js';

export const TASK_QUEUES = {
  /** Workflows and bookkeeping activities (store reads and writes). */
  control: 'scrapeflow',
  /** OmniScrape HTTP calls; the worker's activity slots are the account-wide semaphore. */
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

/** How the per-URL workflow polls an async job. */
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
  /** URLs in flight at once (the sliding window's ceiling). */
  concurrency: number;
  /** Shrink the window on 429s and grow it back (AIMD). */
  adaptive: boolean;
  /** Cost-attribution tags for every URL of the batch. */
  tags: string[];
  /** The OmniScrape account label the batch spends from (for account-wide pause; never the key). */
  account: string;
  schema?: Record<string, FieldRule>;
  /**
   * Write each URL as the `ScrapeflowUrl` search attribute (search attributes are never encrypted, so
   * `startBatch` turns this off when payloads are). @default true
   */
  searchableUrls?: boolean;
  /** The store the batch's input went to (set by `startBatch`); workers with another store refuse it. */
  storeId?: string;
  /**
   * Random per start (set by `startBatch`, never by the user; not a secret): the URLs' OmniScrape
   * idempotency keys are built from it, so two batches' keys never collide, whatever their ids and
   * whichever namespace or deployment started them. Unset in batches started before it existed.
   */
  idempotencyScope?: string;
  /** Pause (the whole account) when a reported balance falls below this, before a 402 happens. */
  pauseBelowBalance?: number;
  retry: RetryMatrixConfig;
  polling: PollingConfig;
  /** Activity timeouts, ms. */
  timeouts: { scrapeMs: number; heartbeatMs: number };
  /**
   * Page interactions (src/batch/steps.ts). When set, every URL of the batch runs in a browser (BaaS)
   * session on the `browser` task queue instead of the scrape API; an input item's own `steps` replace
   * them for that URL (`stepsOf`). @default unset (HTTP path, except for items with steps)
   */
  steps?: Step[];
  /**
   * Scrape a URL that appears on several lines of the input once (its first line); every later line
   * gets a record pointing at the first (`duplicateOf`), charged 0 (src/batch/dedupe.ts). Optional
   * here only because batches started before it have no such field. @default true
   */
  dedupe?: boolean;
}

/** The parts of a URL's work that fit in workflow history. */
export interface UrlWorkflowInput {
  batchId: string;
  item: UrlItem;
  options: BatchOptions;
  /** The batch workflow to report back to. */
  parentWorkflowId: string;
  /**
   * How the summary reaches the batch. Unset: by `urlDone` signal, then complete (the first version).
   * `'result'`: by completing (the batch awaits the child's result: one workflow task and one signal
   * fewer per URL), unless the batch sends `reportBySignal` before it continues as new.
   */
  reportBy?: 'result';
}

/** What a per-URL workflow reports to its batch: small, never a page body. */
export interface UrlSummary {
  index: number;
  status: TerminalStatus;
  reason?: string;
  charged: number;
  methodUsed?: string;
  balanceAfter?: number;
  attempts: number;
  tags?: string[];
}

/**
 * What the batch workflow reports (`running` … `cancelled`), and, for a workflow that closed without
 * completing, what the clients read from its close event: `failed`, `terminated`, `timed_out`, or
 * `cancelled` through Temporal itself (Web UI, `temporal workflow cancel`). The workflow never sets
 * the last three.
 */
export type BatchState =
  'running' | 'paused' | 'completed' | 'cancelled' | 'failed' | 'terminated' | 'timed_out';
export type PauseReason = 'auth' | 'balance' | 'manual';

export interface BatchProgress {
  batchId: string;
  state: BatchState;
  pauseReason?: PauseReason;
  total: number;
  counts: { succeeded: number; failed: number; dead_lettered: number; in_flight: number; pending: number };
  credits: number;
  creditsByMethod: Record<string, number>;
  creditsByTag: Record<string, number>;
  lastBalance?: number;
  /** The adaptive window now, and its ceiling. */
  window: number;
  concurrency: number;
  /** 429 answers seen (each one shrinks the adaptive window). */
  rateLimited: number;
  /** URLs waiting for `resume` after a 401 or 402 (back in the queue, not failed). */
  waiting: number;
  startedAt: string;
  endedAt?: string;
  continuedAsNew: number;
  /**
   * Duplicate lines (src/batch/dedupe.ts): how many the input has (`lines`), and how many of those the
   * batch has passed that have no record yet (`waiting`: they get theirs from their first lines' records
   * when every other URL has ended). While a batch runs, succeeded + failed + dead_lettered + in_flight +
   * pending + duplicates.waiting = total. Unset in batches started before duplicates were detected.
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
  /** State carried across continue-as-new. */
  carried?: CarriedBatchState;
}

export interface CarriedBatchState {
  cursor: number;
  /** In-flight items, as the first versions carried them (now always empty: see `inFlightIndexes`). */
  inFlight: UrlItem[];
  /** Indexes of the URLs in flight. */
  inFlightIndexes?: number[];
  /** Indexes of in-flight URLs waiting for `resume`. */
  waiting: number[];
  progress: BatchProgress;
  paused: boolean;
  cancelled: boolean;
  windowSize: number;
  completionsSinceDecrease: number;
  /** The adaptive window's 429 pressure (window.ts). */
  ratePressure?: number;
  /** Workflow time of the last resume handled (ms). */
  lastResumeAt?: number;
}

export const childWorkflowId = (batchId: string, index: number): string => `${batchId}/${index}`;

/**
 * The steps a URL runs in a browser session: its input item's own (`UrlItem.steps`), else the batch's
 * (`BatchOptions.steps`). Undefined (or empty) means the HTTP scrape path. Pure, so the per-URL workflow
 * routes with it and the browser activity runs what it returns.
 */
export const stepsOf = (input: Pick<UrlWorkflowInput, 'item' | 'options'>): Step[] | undefined =>
  input.item.steps ?? input.options.steps;

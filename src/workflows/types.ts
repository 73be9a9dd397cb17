/**
 * Types and names shared by the workflows, the activities and the clients. Pure: no I/O.
 */
import type { BatchOptions } from '../batch/options.js';
import type { Step } from '../batch/steps.js';
import type { TerminalStatus, UrlItem } from '../store/types.js';

export const TASK_QUEUES = {
  /**
   * Workflows and their bookkeeping activities (store reads and writes): the `workflows` worker role.
   * Named `scrapeflow`: the workflows of running batches and every deployment's workers use that name.
   */
  workflows: 'scrapeflow',
  /** OmniScrape HTTP calls, each holding a plan permit of its account (src/omniscrape/permits.ts). */
  scrape: 'scrape',
  /** Browser (BaaS) sessions. */
  browser: 'browser',
} as const;

/** One URL's work with its batch's options: what the page routes by and what the activities run. */
export interface UrlTask {
  batchId: string;
  item: UrlItem;
  options: BatchOptions;
}

/**
 * One URL's work as its activities receive it: the item and the version of its batch's options (stored
 * once by the batch, `ResultStore.putOptions`), which each worker reads once per batch and version
 * (src/activities/options.ts). The options themselves stay out of every URL's history. A task scheduled
 * by a page that has no version (started by an earlier build) carries the options, and is accepted too.
 */
export type UrlTaskInput = { batchId: string; item: UrlItem; optionsVersion: string } | UrlTask;

/** The activity input of a task: by its options' version when the page has one. */
export const taskInput = (task: UrlTask, optionsVersion: string | undefined): UrlTaskInput =>
  optionsVersion === undefined ? task : { batchId: task.batchId, item: task.item, optionsVersion };

/**
 * What an activity that ends a URL returns to its page: what the page adds up and acts on, nothing more
 * (it lands in the history of every URL; the record in the store has the rest).
 */
export interface UrlSummary {
  status: TerminalStatus;
  reason?: string;
  charged: number;
  methodUsed?: string;
  balanceAfter?: number;
}

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
  /**
   * The worker roles the running batch waits for: no live worker polls a task queue it needs (filled by
   * `getProgress` from Temporal's pollers, src/client/pollers.ts). Unset when none is missing.
   */
  waitingFor?: WaitingFor[];
}

/** A worker role a batch waits for, its task queue, and the line that says how to start one. */
export interface WaitingFor {
  role: keyof typeof TASK_QUEUES;
  taskQueue: string;
  /** `waiting for a workflows worker on task queue scrapeflow (start: scrapeflow worker --queue workflows)` */
  message: string;
}

/** The patch that sends URL activities their options' version instead of the options. */
export const OPTIONS_BY_VERSION_PATCH = 'options-by-version';

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
  /** The version its options are stored under (`OPTIONS_BY_VERSION_PATCH`), once stored. */
  optionsVersion?: string;
}

/** A page workflow's work: input lines [offset, offset + size) of its batch. */
export interface PageWorkflowInput {
  batchId: string;
  options: BatchOptions;
  /**
   * The version `options` are stored under: the page's URL activities get it instead of the options.
   * Unset for pages of batches that began before options were stored (they send the options).
   */
  optionsVersion?: string;
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

/** The default of `timeouts.permitWaitMs` (src/batch/options.ts), ms. */
export const DEFAULT_PERMIT_WAIT_MS = 60_000;

/**
 * How long a call of the batch may wait for a plan permit (`timeouts.permitWaitMs`); the default for
 * options stored without it.
 */
export const permitWaitOf = (options: Pick<BatchOptions, 'timeouts'>): number =>
  options.timeouts.permitWaitMs ?? DEFAULT_PERMIT_WAIT_MS;

/**
 * Types and names shared by the workflows, the activities and the clients. Pure: no I/O.
 */
import type { BatchOptions } from '../batch/options.js';
import { DEFAULT_PERMIT_WAIT_MS } from '../batch/defaults.js';
import type { Step } from '../batch/steps.js';
import type { TerminalStatus, UrlItem } from '../store/types.js';
import type { BatchProgress, PauseReason } from '../batch/progress.js';

export type { BatchProgress, BatchState, PauseReason, WaitingFor } from '../batch/progress.js';

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

/** URL counts by terminal status. */
export type StatusCounts = Record<TerminalStatus, number>;

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
  /** Pauses so far: numbers the next `batch.paused` event (src/workflows/events.ts). @default 0 */
  pauses?: number;
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

/**
 * How long a call of the batch may wait for a plan permit (`timeouts.permitWaitMs`); the default for
 * options stored without it.
 */
export const permitWaitOf = (options: Pick<BatchOptions, 'timeouts'>): number =>
  options.timeouts.permitWaitMs ?? DEFAULT_PERMIT_WAIT_MS;

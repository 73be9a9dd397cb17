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

/** URL counts by terminal status. */
export type StatusCounts = Record<TerminalStatus, number>;

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

/**
 * How long a call of the batch may wait for a plan permit (`timeouts.permitWaitMs`); the default for
 * options stored without it.
 */
export const permitWaitOf = (options: Pick<BatchOptions, 'timeouts'>): number =>
  options.timeouts.permitWaitMs ?? DEFAULT_PERMIT_WAIT_MS;

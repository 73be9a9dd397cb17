/**
 * Where inputs, page bodies, results and dead letters live. Activities write here; workflows only see
 * the small summaries activities return. One interface, two implementations (filesystem default,
 * PostgreSQL), both held to the same contract tests.
 */
import type { BatchOptions } from '../batch/options.js';
import type { Step } from '../batch/steps.js';

/** One input URL of a batch, with its position. */
export interface UrlItem {
  /** 0-based position in the batch input; with the batch id it names the URL's workflow. */
  index: number;
  url: string;
  /** Cost-attribution tags for this URL (merged with the batch's tags). */
  tags?: string[];
  /** When the URL is a re-driven dead letter: the record it replaces. */
  redrivenFrom?: { batchId: string; index: number };
  /**
   * Page interactions for this URL alone (src/batch/steps.ts), over the batch's `steps`: the URL runs in
   * a browser (BaaS) session on the `browser` task queue. @default unset (the batch's steps, if any)
   */
  steps?: Step[];
  /**
   * Set on a line whose URL an earlier line of the same input already has (src/batch/dedupe.ts): the
   * index of that first line. The line is not scraped; its record copies the first's outcome, charged 0.
   */
  duplicateOf?: number;
}

export const TERMINAL_STATUSES = ['succeeded', 'dead_lettered', 'failed'] as const;
export type TerminalStatus = (typeof TERMINAL_STATUSES)[number];

/** Exactly one per URL: the terminal record. */
export interface ResultRecord {
  batchId: string;
  index: number;
  url: string;
  status: TerminalStatus;
  /** Why the URL failed or was dead-lettered (an error code such as `rate_limited`, `scrape_failed`). */
  reason?: string;
  /** Human-readable detail, redacted. */
  detail?: string;
  methodUsed?: string;
  solverUsed?: boolean;
  challengeSolved?: boolean;
  /** Credits charged for this URL. */
  charged: number;
  /** Balance the API reported after the charge. */
  balanceAfter?: number;
  /** Activity tries spent on this URL. */
  attempts: number;
  /** Extracted fields (css_extractor or browser steps). */
  fields?: Record<string, string | null>;
  /** Reference to the stored page body, when there is one. */
  contentRef?: string;
  /** Async job id, when the URL went through the async job flow. */
  jobId?: string;
  tags?: string[];
  /** For dead letters: the OmniScrape response, kept for inspection and re-drive. */
  response?: unknown;
  /** Set on a record that re-drive replaced: the batch and index of the replacement. */
  redrivenTo?: { batchId: string; index: number };
  /** Set on a record written by a re-drive: the record it replaces. */
  redrivenFrom?: { batchId: string; index: number };
  /** Set on the record of a duplicate line: the index of the first line of its URL, whose outcome it copies. */
  duplicateOf?: number;
  /** ISO time the record was written. */
  finishedAt: string;
}

export interface ResultFilter {
  status?: TerminalStatus | TerminalStatus[];
  tag?: string;
}

export interface ResultStore {
  /**
   * Which store this is (`fs:<host>:<dir>` or `pg:<host:port/db>[/schema]`). A batch remembers the id of
   * the store its input went to, and workers refuse its work when theirs differs.
   */
  readonly id: string;
  /**
   * Stores a batch's input; returns how many URLs it holds. Create-only and all-or-nothing:
   * - an id that already has input is refused with `InputExistsError` (before `items` is read), also
   *   when two writers race for one id: exactly one of them stores its input;
   * - when `items` throws (a bad line, a client that disconnected), nothing is stored;
   * - an empty `items` stores nothing and returns 0 (the id stays free).
   * Readers see no part of the input until all of it is stored.
   */
  putInput(
    batchId: string,
    items: AsyncIterable<Omit<UrlItem, 'index'>> | Iterable<Omit<UrlItem, 'index'>>,
  ): Promise<number>;
  /**
   * Removes a batch's input, so that its id is free again; nothing happens when there is none. For a
   * start that stored its input and then failed to start the workflow: it leaves nothing behind.
   * Results, bodies and noted charges are not touched.
   */
  deleteInput(batchId: string): Promise<void>;
  /** Up to `limit` input items from position `offset` on, in order. */
  readInput(batchId: string, offset: number, limit: number): Promise<UrlItem[]>;
  /** How many URLs the batch's input holds, or undefined when there is no such input. */
  inputCount(batchId: string): Promise<number | undefined>;
  /** Stores a page body; returns a reference to it. Idempotent per (batch, index). */
  putContent(batchId: string, index: number, content: string): Promise<string>;
  /** The body behind a reference, or undefined when it was pruned or never stored. */
  getContent(ref: string): Promise<string | undefined>;
  /**
   * Notes that one try of a URL was billed before the URL's record exists: a BaaS session is billed
   * when it opens, and the try may still die (worker killed, session lost). The record then charges the
   * sum (`notedCharges`). Idempotent per `tryId`.
   */
  noteCharge(batchId: string, index: number, tryId: string, credits: number): Promise<void>;
  /** Credits noted for a URL by `noteCharge`, summed over its tries; 0 when none. */
  notedCharges(batchId: string, index: number): Promise<number>;
  /**
   * Stores a batch's options under a version (a hash of their content, `src/activities/options.ts`),
   * so a URL's activities receive the version instead of the options. Idempotent: a version names one
   * content, so a repeated write keeps what is there.
   */
  putOptions(batchId: string, version: string, options: BatchOptions): Promise<void>;
  /** The options stored under (batch, version), or undefined when there are none. */
  getOptions(batchId: string, version: string): Promise<BatchOptions | undefined>;
  /** Writes the terminal record of a URL. Idempotent by (batch, index): the last write wins. */
  putResult(record: ResultRecord): Promise<void>;
  getResult(batchId: string, index: number): Promise<ResultRecord | undefined>;
  /** Streams a batch's records in index order, in bounded memory. */
  listResults(batchId: string, filter?: ResultFilter): AsyncIterable<ResultRecord>;
  /**
   * Retention: deletes the page bodies stored before `olderThan` (in every batch); result records stay,
   * and `getContent` answers undefined for their references. Returns how many bodies were removed.
   * Leftovers of writers killed mid-write older than the cutoff go too, uncounted.
   */
  pruneContent(olderThan: Date): Promise<number>;
  close(): Promise<void>;
}

/**
 * Longest batch id a start accepts. Every HTTP route takes it (the service's path-parameter limit is
 * set above it), and a default re-drive id (`<id>-redrive-<hex>`) is cut to fit it.
 */
export const MAX_BATCH_ID_LENGTH = 100;

/** The ids a person may start a batch under: a safe alphabet, at most MAX_BATCH_ID_LENGTH long. */
export const USER_BATCH_ID_PATTERN = new RegExp(`^[A-Za-z0-9][A-Za-z0-9._-]{0,${MAX_BATCH_ID_LENGTH - 1}}$`);

/**
 * Batch ids become file names and workflow ids: the ids people choose, and a monitor run's
 * `<name>@<YYYYMMDDTHHMMSSZ>` (src/monitors/types.ts). `@` appears in no id a person can choose, so a
 * start can never take a monitor run's id; `:` appears in none at all (the run time is ISO 8601's basic
 * form), so every id stays a portable file name and a plain literal in visibility queries.
 */
export const BATCH_ID_PATTERN = new RegExp(
  `${USER_BATCH_ID_PATTERN.source}|^[A-Za-z0-9][A-Za-z0-9._-]{0,63}@\\d{8}T\\d{6}Z$`,
);

/**
 * The names the stores accept: the same safe alphabet plus `@` (monitor runs, and their stored URL
 * lists `<name>@input-<version>`), up to 128 characters. Stores hold batches with ids longer than
 * MAX_BATCH_ID_LENGTH, which stay readable and exportable.
 */
export const STORED_BATCH_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$/;

/** An options version (`putOptions`): lowercase hex, as a content hash prints. */
export const OPTIONS_VERSION_PATTERN = /^[0-9a-f]{8,64}$/;

/** The version, or an error naming it when it is not one (it becomes a file name and a key). */
export function checkVersion(version: string): string {
  if (!OPTIONS_VERSION_PATTERN.test(version))
    throw new Error(`invalid options version ${JSON.stringify(version)}`);
  return version;
}

/** `putInput` under an id that already has input: the store keeps the input it has. */
export class InputExistsError extends Error {
  override readonly name = 'InputExistsError';
  readonly code = 'input_exists';
  constructor(readonly batchId: string) {
    super(`the store already holds input for batch ${JSON.stringify(batchId)}`);
  }
}

export function matchesFilter(record: ResultRecord, filter: ResultFilter | undefined): boolean {
  if (!filter) return true;
  if (filter.status) {
    const statuses = Array.isArray(filter.status) ? filter.status : [filter.status];
    if (!statuses.includes(record.status)) return false;
  }
  if (filter.tag && !(record.tags ?? []).includes(filter.tag)) return false;
  return true;
}

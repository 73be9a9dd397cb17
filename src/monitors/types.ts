/**
 * Monitors: a named Temporal Schedule whose runs are ordinary batches (`<name>@<scheduled time>`), and
 * what change tracking records of each URL in each run. Pure: the workflows import it too.
 */
import type { BatchOptions } from '../batch/options.js';
import type { SitemapSource } from '../sitemaps/types.js';

/** Monitor names become schedule ids, file names and batch id prefixes: a safe alphabet, ≤ 64 characters. */
export const MONITOR_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * A run's scheduled time in the batch id: ISO 8601 basic format in UTC (`20261206T223500Z`). The basic
 * form (no `:` or `-`) keeps the id a safe file name on every filesystem and a plain token in
 * visibility queries, while still being an ISO time that sorts as the runs do.
 */
export const RUN_TIME_PATTERN = /^\d{8}T\d{6}Z$/;

/** `<name>@<YYYYMMDDTHHMMSSZ>`: a monitor run's batch id. Only monitors make ids with `@`. */
export const MONITOR_RUN_ID_PATTERN = /^([A-Za-z0-9][A-Za-z0-9._-]{0,63})@(\d{8}T\d{6}Z)$/;

/** The batch id of a monitor's run scheduled at `at` (whole seconds, UTC). */
export function monitorRunId(name: string, at: Date): string {
  return `${name}@${basicIso(at)}`;
}

/** `2026-12-06T22:35:00.123Z` → `20261206T223500Z`. */
export function basicIso(at: Date): string {
  return at
    .toISOString()
    .replace(/\.\d+Z$/, 'Z')
    .replace(/[-:]/g, '');
}

/** `20261206T223500Z` → the Date, or undefined when it is not one. */
export function parseBasicIso(text: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(text);
  if (!m) return undefined;
  const date = new Date(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}Z`);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/** The monitor name and scheduled time of a run's batch id, or undefined for any other id. */
export function parseMonitorRunId(batchId: string): { name: string; scheduledAt: Date } | undefined {
  const m = MONITOR_RUN_ID_PATTERN.exec(batchId);
  const at = m?.[2] && parseBasicIso(m[2]);
  return m?.[1] && at ? { name: m[1], scheduledAt: at } : undefined;
}

/** The schedule id of a monitor (its name: the Web UI's Schedules page lists it so). */
export const scheduleIdOf = (name: string): string => `monitor-${name}`;

export const CHANGE_STATUSES = ['new', 'same', 'changed', 'removed', 'not_observed', 'baseline'] as const;
export type ChangeStatus = (typeof CHANGE_STATUSES)[number];

/** Statuses whose observation becomes the URL's baseline for the next run. */
export const GOOD_STATUSES: readonly ChangeStatus[] = ['new', 'same', 'changed', 'baseline'];

/** A field's move: what the baseline held and what this run saw. */
export interface FieldDiff {
  previous: string | number | null;
  current: string | number | null;
}

/** What a later run compares a URL against: its last good observation. */
export interface Baseline {
  batchId: string;
  observedAt: string;
  fields?: Record<string, string | null>;
  /** sha256 of the page's normalised text content (outputFormat html). */
  contentHash?: string;
  contentRef?: string;
  /** Hash of the extraction config the baseline was observed with (src/monitors/changes.ts). */
  configHash: string;
}

/** One URL in one run of a monitor. */
export interface Observation {
  monitor: string;
  url: string;
  batchId: string;
  /** The run's scheduled time (ISO). */
  observedAt: string;
  status: ChangeStatus;
  /** `lastmod` (skipped as unchanged), or the failure reason of a `not_observed` URL. */
  reason?: string;
  /** Per-field moves of a `changed` URL. */
  diff?: Record<string, FieldDiff>;
  /** Credits the run's record of the URL charged. */
  charged: number;
  /**
   * What the next run compares against: this run's fields when it observed the URL, the carried-over
   * previous baseline when it did not (not_observed, removed), none before the first good observation.
   */
  baseline?: Baseline;
  /** When the baseline this run compared against was observed (absent for `new`). */
  previousObservedAt?: string;
  /**
   * The stored page body (its content ref) of the baseline a `changed` text content was compared
   * against, so `monitor changes --diff` can show what moved.
   */
  previousContentRef?: string;
}

/** How a monitor's run gets its URLs. */
export type MonitorInput =
  | {
      kind: 'urls';
      /** Stored input id (`<name>@input-<version>`) holding the URL list of this spec version. */
      inputId: string;
      count: number;
    }
  | { kind: 'sitemap'; source: SitemapSource };

/** A threshold below which a number field's move is `same`: absolute, or relative (percent). */
export interface ChangeThreshold {
  absolute?: number;
  percent?: number;
}

/** When the schedule fires. */
export interface MonitorSchedule {
  /** A duration Temporal understands (`1h`, `30m`). */
  every?: string;
  cron?: string;
  /** IANA zone of `cron`. @default UTC */
  timezone?: string;
  jitter?: string;
  /** @default 1h */
  catchupWindow: string;
}

/** A monitor as stored. */
export interface MonitorSpec {
  name: string;
  account: string;
  input: MonitorInput;
  schedule: MonitorSchedule;
  /** The batch options every run gets (maxCredits from `maxCreditsPerRun`). */
  options: BatchOptions;
  maxCreditsPerRun?: number;
  maxCreditsPerMonth?: number;
  /** Days observations are kept. @default 90 */
  retainDays: number;
  thresholds: Record<string, ChangeThreshold>;
  /** Sitemap URLs whose lastmod is not newer than their last observation are not scraped. */
  skipUnchanged: boolean;
  state: MonitorState;
  createdAt: string;
  updatedAt: string;
}

export interface MonitorState {
  paused: boolean;
  /** `budget` (the month's cap was spent) or `manual`. */
  pauseReason?: 'budget' | 'manual';
  /** Overlap skips already reported as `monitor.run.skipped` events. */
  skipsReported: number;
}

export const MONITOR_DEFAULTS = {
  retainDays: 90,
  catchupWindow: '1h',
  /** Temporal Schedules' own floor for an interval is 1 s; a monitor run is a whole batch. */
  minEvery: '1m',
  /** Observations per store call while change tracking streams a run. */
  chunk: 1000,
  /** URLs per `monitor.changes` event. */
  changesPerEvent: 500,
} as const;

/** A run as the monitor's runs table holds it. */
export interface MonitorRun {
  monitor: string;
  batchId: string;
  scheduledAt: string;
  state: 'running' | 'tracked';
  counts?: Record<ChangeStatus, number>;
  credits?: number;
  trackedAt?: string;
}

export const noChangeCounts = (): Record<ChangeStatus, number> => ({
  new: 0,
  same: 0,
  changed: 0,
  removed: 0,
  not_observed: 0,
  baseline: 0,
});

/**
 * Change tracking's arithmetic: one URL's observation in a run from its record and its previous run's
 * observation. Pure (no I/O): the activity (src/activities/monitors.ts) streams records through it.
 *
 * Invariant 10 lives here: a URL without a `succeeded` record is `not_observed` and carries its last good
 * observation forward as the baseline, so a failure is never a change; an extraction config that differs
 * from the baseline's is a new `baseline`, never a change.
 */
import { createHash } from 'node:crypto';
import type { BatchOptions } from '../batch/options.js';
import { parseNumberField, type FieldRule } from '../batch/field-schema.js';
import type { ResultRecord } from '../store/types.js';
import type { Baseline, ChangeThreshold, FieldDiff, Observation } from './types.js';

/** JSON with sorted object keys: equal configs hash equally whatever order their keys came in. */
function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

/** What decides what a run extracts: selectors, schema, output format, mode and browser steps. */
export function configHashOf(
  options: Pick<BatchOptions, 'mode' | 'outputFormat' | 'cssSelectors' | 'schema' | 'steps'>,
): string {
  const { mode, outputFormat, cssSelectors, schema, steps } = options;
  const text = stableJson({ mode, outputFormat, cssSelectors, schema, steps });
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

/** Whitespace runs collapse to one space, ends trimmed: layout changes are no change. */
export const normalizeText = (text: string): string => text.replace(/\s+/g, ' ').trim();

/** sha256 of a page's normalised text content (the caller extracts the text). */
export const contentHashOf = (text: string): string =>
  createHash('sha256').update(normalizeText(text)).digest('hex');

/** Thresholds by field (`*`: every number field without its own). */
export type Thresholds = Record<string, ChangeThreshold>;

/** Whether a move from `previous` to `current` is under the field's threshold (then it is no change). */
export function underThreshold(previous: number, current: number, threshold: ChangeThreshold | undefined) {
  if (!threshold) return previous === current;
  const move = Math.abs(current - previous);
  if (threshold.absolute !== undefined && move < threshold.absolute) return true;
  if (threshold.percent !== undefined) {
    if (previous === 0) return move === 0;
    if ((move / Math.abs(previous)) * 100 < threshold.percent) return true;
  }
  return move === 0;
}

/**
 * The per-field moves between two field sets: number fields of the schema by their parsed value (and
 * threshold), everything else as text after whitespace normalisation. Empty when nothing moved.
 */
export function diffFields(
  previous: Record<string, string | null>,
  current: Record<string, string | null>,
  schema: Record<string, FieldRule> | undefined,
  thresholds: Thresholds,
): Record<string, FieldDiff> {
  const diff: Record<string, FieldDiff> = {};
  const names = [...new Set([...Object.keys(previous), ...Object.keys(current)])].sort();
  for (const name of names) {
    const before = Object.hasOwn(previous, name) ? (previous[name] ?? null) : null;
    const after = Object.hasOwn(current, name) ? (current[name] ?? null) : null;
    const rule = schema && Object.hasOwn(schema, name) ? schema[name] : undefined;
    if (rule && rule.type !== 'string') {
      const a = parseNumberField(before);
      const b = parseNumberField(after);
      if (a !== undefined && b !== undefined) {
        if (!underThreshold(a, b, thresholds[name] ?? thresholds['*']))
          diff[name] = { previous: a, current: b };
        continue;
      }
    }
    const a = before === null ? null : normalizeText(before);
    const b = after === null ? null : normalizeText(after);
    if (a !== b) diff[name] = { previous: a, current: b };
  }
  return diff;
}

export interface ObserveInput {
  monitor: string;
  batchId: string;
  /** The run's scheduled time (ISO). */
  observedAt: string;
  record: ResultRecord;
  /** Text content hash of the record's page (outputFormat html). */
  contentHash?: string;
  configHash: string;
  /** The URL's observation in the previous tracked run, if it had one. */
  previous?: Observation;
  schema?: Record<string, FieldRule>;
  thresholds: Thresholds;
}

/** The baseline a URL's previous observation leaves for this run (a removed URL left none). */
export const baselineOf = (previous: Observation | undefined): Baseline | undefined =>
  previous && previous.status !== 'removed' ? previous.baseline : undefined;

/** One URL's observation in this run. */
export function observe(input: ObserveInput): Observation {
  const { monitor, batchId, observedAt, record } = input;
  const prior = baselineOf(input.previous);
  const base = {
    monitor,
    url: record.url,
    batchId,
    observedAt,
    charged: record.charged,
    ...(prior ? { previousObservedAt: prior.observedAt } : {}),
  };
  if (record.status !== 'succeeded') {
    // Invariant 10: the last good observation stays the baseline.
    return {
      ...base,
      status: 'not_observed',
      reason: record.reason ?? record.status,
      ...(prior ? { baseline: prior } : {}),
    };
  }
  const seen: Baseline = {
    batchId,
    observedAt,
    configHash: input.configHash,
    ...(record.fields ? { fields: record.fields } : {}),
    ...(input.contentHash ? { contentHash: input.contentHash } : {}),
    ...(record.contentRef ? { contentRef: record.contentRef } : {}),
  };
  if (!prior) return { ...base, status: 'new', baseline: seen };
  if (prior.configHash !== input.configHash) return { ...base, status: 'baseline', baseline: seen };
  const diff = diffFields(prior.fields ?? {}, record.fields ?? {}, input.schema, input.thresholds);
  let previousContentRef: string | undefined;
  if (prior.contentHash !== input.contentHash) {
    diff.content = { previous: prior.contentHash ?? null, current: input.contentHash ?? null };
    previousContentRef = prior.contentRef;
  }
  if (Object.keys(diff).length > 0)
    return {
      ...base,
      status: 'changed',
      diff,
      baseline: seen,
      ...(previousContentRef ? { previousContentRef } : {}),
    };
  // Same: the baseline keeps its values, so moves under a threshold add up until one is reported.
  return { ...base, status: 'same', baseline: prior };
}

/** A URL that was in the previous run's input and is not in this run's. */
export function removed(previous: Observation, batchId: string, observedAt: string): Observation {
  const prior = baselineOf(previous);
  return {
    monitor: previous.monitor,
    url: previous.url,
    batchId,
    observedAt,
    status: 'removed',
    charged: 0,
    ...(prior ? { baseline: prior, previousObservedAt: prior.observedAt } : {}),
  };
}

/** A sitemap URL whose lastmod is not newer than its baseline: not scraped, `same` for 0 credits. */
export function unchangedByLastmod(previous: Observation, batchId: string, observedAt: string): Observation {
  const prior = baselineOf(previous);
  return {
    monitor: previous.monitor,
    url: previous.url,
    batchId,
    observedAt,
    status: 'same',
    reason: 'lastmod',
    charged: 0,
    ...(prior ? { baseline: prior, previousObservedAt: prior.observedAt } : {}),
  };
}

/** `price=1%`, `price=0.5`, `1%` (every number field) → [field, threshold]; undefined when malformed. */
export function parseThreshold(text: string): [string, ChangeThreshold] | undefined {
  const m = /^(?:([^=\s]+)=)?(\d+(?:\.\d+)?)(%?)$/.exec(text.trim());
  if (!m?.[2]) return undefined;
  const n = Number(m[2]);
  return [m[1] ?? '*', m[3] ? { percent: n } : { absolute: n }];
}

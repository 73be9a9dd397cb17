/**
 * Search attributes that make batches and their pages findable in the Temporal Web UI and `list`.
 * Registered by the dev server helper at start; any other cluster once, by `scrapeflow cluster setup`
 * (src/temporal/setup.ts; docker-compose.yml runs it as a one-shot service).
 * Pure module: workflows import it.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/**
 * The longest Keyword value every visibility store keeps: SQL visibility stores Keywords as
 * `varchar(255)` and refuses a longer value. Every Keyword value scrapeflow writes is bounded below this
 * by validation where it enters (batch ids, account labels) rather than cut here: a cut batch id would
 * find another batch's workflows.
 */
export const MAX_KEYWORD_LENGTH = 255;

export const BatchIdAttr = defineSearchAttributeKey('ScrapeflowBatchId', SearchAttributeType.KEYWORD);
/** running | paused | completed | cancelled */
export const BatchStatusAttr = defineSearchAttributeKey('ScrapeflowBatchStatus', SearchAttributeType.KEYWORD);
/** auth | balance | outage | budget | manual, while paused */
export const PauseReasonAttr = defineSearchAttributeKey('ScrapeflowPauseReason', SearchAttributeType.KEYWORD);
/** The OmniScrape account a batch spends from (a label, never the key). */
export const AccountAttr = defineSearchAttributeKey('ScrapeflowAccount', SearchAttributeType.KEYWORD);
/** The monitor whose run a batch is (`<name>@<time>`): `ScrapeflowMonitor = "prices"` lists its runs. */
export const MonitorAttr = defineSearchAttributeKey('ScrapeflowMonitor', SearchAttributeType.KEYWORD);
/**
 * How many URLs of a batch or page ended each way, set when it ends (Web UI: `ScrapeflowFailed > 0`).
 * Numbers, not text: no search attribute is `Text`, which PostgreSQL visibility cannot index for URLs.
 */
export const SucceededAttr = defineSearchAttributeKey('ScrapeflowSucceeded', SearchAttributeType.INT);
export const FailedAttr = defineSearchAttributeKey('ScrapeflowFailed', SearchAttributeType.INT);
export const DeadLetteredAttr = defineSearchAttributeKey('ScrapeflowDeadLettered', SearchAttributeType.INT);

/** The count attributes of `counts`, for `upsertSearchAttributes`. */
export function countAttributes(counts: { succeeded: number; failed: number; dead_lettered: number }) {
  return [
    { key: SucceededAttr, value: counts.succeeded },
    { key: FailedAttr, value: counts.failed },
    { key: DeadLetteredAttr, value: counts.dead_lettered },
  ];
}

export const ALL_SEARCH_ATTRIBUTES = [
  BatchIdAttr,
  BatchStatusAttr,
  PauseReasonAttr,
  AccountAttr,
  SucceededAttr,
  FailedAttr,
  DeadLetteredAttr,
  MonitorAttr,
];

const CLI_TYPE_NAMES: Partial<Record<SearchAttributeType, string>> = {
  [SearchAttributeType.KEYWORD]: 'Keyword',
  [SearchAttributeType.INT]: 'Int',
};

/** Name → Temporal CLI type, for `--search-attribute` and `operator search-attribute create`. */
export const SEARCH_ATTRIBUTES: Record<string, string> = Object.fromEntries(
  ALL_SEARCH_ATTRIBUTES.map((key) => [key.name, CLI_TYPE_NAMES[key.type] ?? key.type]),
);

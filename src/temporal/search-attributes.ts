/**
 * Search attributes that make batches and URLs findable in the Temporal Web UI and `list`.
 * Registered by the dev server helper at start; production clusters register them once
 * (`temporal operator search-attribute create`, see docker-compose.yml).
 * Pure module: workflows import it.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const BatchIdAttr = defineSearchAttributeKey('ScrapeflowBatchId', SearchAttributeType.KEYWORD);
/** running | paused | completed | cancelled */
export const BatchStatusAttr = defineSearchAttributeKey('ScrapeflowBatchStatus', SearchAttributeType.KEYWORD);
/** auth | balance | manual, while paused */
export const PauseReasonAttr = defineSearchAttributeKey('ScrapeflowPauseReason', SearchAttributeType.KEYWORD);
/** The OmniScrape account a batch spends from (a label, never the key). */
export const AccountAttr = defineSearchAttributeKey('ScrapeflowAccount', SearchAttributeType.KEYWORD);
/** The URL a per-URL workflow scrapes. */
export const UrlAttr = defineSearchAttributeKey('ScrapeflowUrl', SearchAttributeType.TEXT);
/** succeeded | dead_lettered | failed | requeued, once a URL ends */
export const OutcomeAttr = defineSearchAttributeKey('ScrapeflowOutcome', SearchAttributeType.KEYWORD);

export const ALL_SEARCH_ATTRIBUTES = [
  BatchIdAttr,
  BatchStatusAttr,
  PauseReasonAttr,
  AccountAttr,
  UrlAttr,
  OutcomeAttr,
];

const CLI_TYPE_NAMES: Partial<Record<SearchAttributeType, string>> = {
  [SearchAttributeType.KEYWORD]: 'Keyword',
  [SearchAttributeType.TEXT]: 'Text',
};

/** Name → Temporal CLI type, for `--search-attribute` and `operator search-attribute create`. */
export const SEARCH_ATTRIBUTES: Record<string, string> = Object.fromEntries(
  ALL_SEARCH_ATTRIBUTES.map((key) => [key.name, CLI_TYPE_NAMES[key.type] ?? key.type]),
);

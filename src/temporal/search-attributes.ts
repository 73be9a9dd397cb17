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

/**
 * Temporal refuses a search attribute value over `limit.searchAttributeSize` (2 KB by default), and a
 * refused child start fails the batch's workflow task again and again: the batch would hang. URLs may be
 * up to 8,192 characters, so the searchable copy is cut to this many UTF-8 bytes, ending in `…`.
 */
export const MAX_SEARCHABLE_URL_BYTES = 2000;

/** `url` as the `ScrapeflowUrl` search attribute: whole when it fits, else its longest prefix that does. */
export function searchableUrl(url: string): string {
  let bytes = 0;
  let end = 0;
  for (const ch of url) {
    const cp = ch.codePointAt(0) ?? 0;
    const size = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    if (bytes + size > MAX_SEARCHABLE_URL_BYTES) return `${url.slice(0, end)}…`;
    bytes += size;
    end += ch.length;
  }
  return url;
}

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

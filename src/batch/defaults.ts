/**
 * Defaults of batch options that code outside their zod schema (src/batch/options.ts) reads too: the
 * workflows, the permits, the CLI's flags, the environment. Zod-free, so workflow code imports it
 * without bundling zod, and the schema, the workflows and the clients read one declaration.
 */

/** Most urgent Temporal task priority. */
export const HIGHEST_PRIORITY = 1;
/** Least urgent (the server's default `matching.priorityLevels` is 5). */
export const LOWEST_PRIORITY = 5;
/** A batch without a priority: Temporal's own default ((1 + 5) / 2), so unmarked work ranks the same. */
export const DEFAULT_PRIORITY = 3;

/** The default of `timeouts.permitWaitMs`, ms. */
export const DEFAULT_PERMIT_WAIT_MS = 60_000;

/**
 * The plan's concurrency assumed where a caller does not know it: OMNISCRAPE_PLAN_CONCURRENCY's
 * default, and the local API's plan in the dev stack.
 */
export const DEFAULT_PLAN = 5;
/**
 * An OmniScrape account label: 1 to 100 characters without quotes, backslashes or control characters. Labels
 * go into visibility queries (`ScrapeflowAccount IN ('a', 'b')` narrows a token's listings), where such a
 * character would change what the query selects.
 */
export const ACCOUNT_LABEL_PATTERN = /^[^'"\\\p{Cc}]{1,100}$/u;
/** What ACCOUNT_LABEL_PATTERN asks, in the words of an error message. */
export const ACCOUNT_LABEL_RULE =
  'an account label is 1 to 100 characters, without quotes, backslashes or control characters';

/** The default `concurrency` per unit of the plan: headroom to keep the plan busy while URLs turn over. */
export const WINDOW_PER_PLAN = 2;

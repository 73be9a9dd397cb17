/**
 * Event ids, derived from the business event and never random: the same event gets the same id on every
 * retry, after any crash and on re-emission, so the sink (idempotent by id) records it once and a
 * receiver can drop a duplicate delivery by `webhook-id`. Pure: the workflows import it.
 */
import { pageWorkflowId } from '../workflows/types.js';

export const eventIds = {
  started: (batchId: string) => `${batchId}.started`,
  /** The batch's `n`th pause (1-based, counted in its state across continue-as-new). */
  paused: (batchId: string, n: number) => `${batchId}.paused.${n}`,
  /** The resume that ends the `n`th pause: it pairs with `paused.<n>`. */
  resumed: (batchId: string, n: number) => `${batchId}.resumed.${n}`,
  /** Page `page` ended (`<batchId>/p<k>` is the page workflow's id). */
  pageCompleted: (batchId: string, page: number) => `${pageWorkflowId(batchId, page)}.completed`,
  completed: (batchId: string) => `${batchId}.completed`,
  failed: (batchId: string) => `${batchId}.failed`,
  cancelled: (batchId: string) => `${batchId}.cancelled`,
  /**
   * An account's balance crossed below `threshold`. Each scrape worker watches the balance on its own, so
   * the id must be the same for every worker that sees the same crossing, yet new for a later crossing
   * (after a top-up): it names the account, the threshold and the UTC hour the crossing was seen in.
   * Workers that see one crossing within the hour (the usual case: they all read the same falling
   * balance within seconds) produce one event; a worker's retries keep the id it chose first. A new
   * crossing in the same hour after a top-up is not reported again (the first still stands), and a
   * crossing seen by two workers on both sides of an hour's turn is reported twice, with two ids.
   */
  lowBalance: (account: string, threshold: number, at: Date) =>
    `account:${account}.low_balance.${threshold}.${at.toISOString().slice(0, 13)}`,
};

/** The `subject` of an account's events (what their `sequence` counts). */
export const accountSubject = (account: string) => `account:${account}`;

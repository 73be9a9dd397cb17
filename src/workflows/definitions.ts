/**
 * Signals and queries of the batch and page workflows. Clients import these too.
 */
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { BatchProgress, PageProgress, PauseReason } from './types.js';

/** Stop starting new URLs (URLs in flight finish). To a batch from a client; to a page from its batch. */
export const pauseSignal = defineSignal<[{ reason?: PauseReason }?]>('pause');
/**
 * Continue after a pause; URLs waiting after a 401, 402 or outage try again. `maxCredits` (to a batch)
 * raises its cap; `allowance` (to a page, from its batch) is what the page may now spend in all.
 */
export const resumeSignal = defineSignal<[{ maxCredits?: number; allowance?: number }?]>('resume');
/** Cancel the batch: nothing new starts, URLs in flight are cancelled, every URL gets a record. */
export const cancelSignal = defineSignal('cancel');
/**
 * From a page to its batch: the page stopped starting URLs because of `reason` (a URL met a 401, 402 or
 * an outage, the balance fell below the batch's threshold, or the page's credit allowance is spent).
 * `at` is when the activity gave up (ms), so a report older than the last resume is recognised.
 */
export const pagePausedSignal =
  defineSignal<[{ page: number; reason: PauseReason; at?: number }]>('pagePaused');
/** From a batch to a page: the page's share of the batch's concurrency is now `window`. */
export const pageWindowSignal = defineSignal<[{ window: number }]>('pageWindow');
/** From an activity to its page: one of its calls was rate limited (for the adaptive window). */
export const rateLimitedSignal = defineSignal('rateLimited');

export const progressQuery = defineQuery<BatchProgress>('progress');
export const pageProgressQuery = defineQuery<PageProgress>('pageProgress');

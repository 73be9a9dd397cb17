/**
 * Signals and queries of the batch and per-URL workflows. Clients import these too.
 */
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { BatchProgress, PauseReason, UrlSummary } from './types.js';

/** Stop starting new URLs (in-flight URLs finish). */
export const pauseSignal = defineSignal<[{ reason?: PauseReason }?]>('pause');
/** Continue after a pause; URLs waiting after a 401/402 try again. */
export const resumeSignal = defineSignal('resume');
/** Cancel the batch: in-flight URLs are cancelled, nothing new starts. */
export const cancelSignal = defineSignal('cancel');
/** A per-URL workflow reports its terminal summary. */
export const urlDoneSignal = defineSignal<[UrlSummary]>('urlDone');
/**
 * To a per-URL workflow that reports by completing (`reportBy: 'result'`): its batch is about to continue
 * as new, so report by `urlDone` signal instead (the next run holds no handle on it).
 */
export const reportBySignalSignal = defineSignal('reportBySignal');
/** A per-URL workflow hit 401/402 and now waits for `resume`. */
export const urlPausedSignal =
  defineSignal<[{ index: number; reason: PauseReason; /** when the 401/402 came (ms) */ at?: number }]>(
    'urlPaused',
  );
/** An activity of this batch got a 429: shrink the adaptive window. */
export const rateLimitedSignal = defineSignal('rateLimited');

export const progressQuery = defineQuery<BatchProgress>('progress');

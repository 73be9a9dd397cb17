/** The OmniScrape port: the calls the activities make, whichever client answers them. */
import type { AsyncJobResponse, AsyncSubmitResponse, ScrapeRequestInput, ScrapeResponse } from './types.js';

/**
 * The calls the activities make, each under the batch's account label (`AccountClients` sends that
 * account's key; `OmniScrapeClient`, one key, ignores it).
 */
export interface OmniScrapeApi {
  scrape(
    request: ScrapeRequestInput,
    options: { account: string; signal?: AbortSignal; timeoutMs?: number; idempotencyKey?: string },
  ): Promise<ScrapeResponse>;
  submitAsync(
    request: ScrapeRequestInput,
    options: { account: string; signal?: AbortSignal; idempotencyKey?: string },
  ): Promise<AsyncSubmitResponse>;
  getAsyncJob(jobId: string, options: { account: string; signal?: AbortSignal }): Promise<AsyncJobResponse>;
}

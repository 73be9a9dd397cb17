/**
 * Activities that call OmniScrape (task queue `scrape`). Each writes what it learns to the store and
 * returns a small summary; page bodies never go back into workflow history.
 */
import { Context } from '@temporalio/activity';
import type { Logger } from '../logging/logger.js';
import type { AsyncJobResponse, ScrapeRequestInput, ScrapeResponse } from '../omniscrape/types.js';
import { AsyncJobFailedError, NotFoundError, OmniScrapeError } from '../omniscrape/errors.js';
import { isOutageSign } from '../omniscrape/retry-matrix.js';
import { OutageDetector } from '../omniscrape/outage.js';
import type { OmniScrapeApi } from '../omniscrape/api.js';
import type { ResultStore } from '../store/types.js';
import type { UrlSummary, UrlTask, UrlTaskInput } from '../workflows/types.js';
import { OptionsCache } from './options.js';
import { createCaller, type CallerDeps } from './calls.js';
import { checkSameStore, classifyActivityError } from './failures.js';
import { applySchema, earlierTryRecord, writeRecord } from './records.js';

/** Tells a page workflow that one of its calls was rate limited (for its adaptive window). */
export interface PageNotifier {
  rateLimited(workflowId: string): Promise<void>;
}

/** Tells the workflow that scheduled the running activity about its 429 (never waits, never throws). */
export function notifyRateLimited(notifier: PageNotifier | undefined, logger: Logger): void {
  const workflowId = Context.current().info.workflowExecution?.workflowId;
  if (!notifier || !workflowId) return;
  notifier
    .rateLimited(workflowId)
    .catch((err: unknown) => logger.warn({ err, workflowId }, 'could not tell the page about a 429'));
}

export interface ScrapeActivityDeps extends CallerDeps {
  api: OmniScrapeApi;
  store: ResultStore;
  notifier?: PageNotifier;
  /** Tells an outage from a URL's bad luck (one per process). @default a new detector */
  health?: OutageDetector;
  /** Batch options by version (src/activities/options.ts). @default a cache of `store` */
  optionsCache?: OptionsCache;
}

export type PollResult = { done: false; status: 'queued' | 'running' } | { done: true; summary: UrlSummary };

/** The client's own timeout stays below the activity's, so our timeout (not Temporal's) fires first. */
export const clientTimeoutMs = (activityTimeoutMs: number) =>
  activityTimeoutMs - Math.min(5000, Math.floor(activityTimeoutMs / 4));

/**
 * One key per URL of one start: a re-driven URL (a new batch) is a new call, and two batches under the
 * same id (other namespaces or deployments spending from one account) never share a key. At most
 * 100 (batch id) + 32 (scope) + 10 (index) + 2 characters, within the client's 255. Options stored
 * without a scope keep the key without one, the key their batch's calls in flight were made with, so a
 * retry of such a call still finds its answer.
 */
export const idempotencyKeyOf = (input: Pick<UrlTask, 'batchId' | 'item' | 'options'>) =>
  input.options.idempotencyScope === undefined
    ? `${input.batchId}/${input.item.index}`
    : `${input.batchId}/${input.options.idempotencyScope}/${input.item.index}`;

export function requestFor(input: UrlTask, mode = input.options.mode): ScrapeRequestInput {
  const o = input.options;
  return {
    url: input.item.url,
    mode,
    output_format: o.outputFormat,
    ...(o.cssSelectors ? { css_selectors: o.cssSelectors } : {}),
    enable_solver: o.enableSolver,
    ...(o.jsWaitSelector ? { js_wait_selector: o.jsWaitSelector } : {}),
    ...(o.jsWaitTimeoutMs !== undefined ? { js_wait_timeout: o.jsWaitTimeoutMs } : {}),
  };
}

/** Writes the terminal record for a response (success, or success:false as a dead letter). */
async function finish(
  store: ResultStore,
  input: UrlTask,
  body: ScrapeResponse,
  extra: { attempts: number; jobId?: string; deadLetter?: OmniScrapeError },
): Promise<UrlSummary> {
  const { batchId, item } = input;
  const fields = body.data?.css_extracted ?? undefined;
  const verdict = applySchema(
    extra.deadLetter
      ? {
          status: 'dead_lettered',
          reason: extra.deadLetter.code,
          detail: body.error ?? extra.deadLetter.message,
        }
      : { status: 'succeeded' },
    fields,
    input,
  );
  const content = body.data?.content;
  const contentRef = content ? await store.putContent(batchId, item.index, content) : undefined;
  return writeRecord(store, input, verdict, {
    ...(body.metadata?.method_used ? { methodUsed: body.metadata.method_used } : {}),
    ...(body.metadata?.solver_used !== undefined ? { solverUsed: body.metadata.solver_used } : {}),
    ...(body.metadata?.challenge_solved !== undefined
      ? { challengeSolved: body.metadata.challenge_solved }
      : {}),
    charged: body.billing?.charged ?? 0,
    ...(body.billing ? { balanceAfter: body.billing.balance_after } : {}),
    attempts: extra.attempts,
    ...(fields ? { fields } : {}),
    ...(contentRef ? { contentRef } : {}),
    ...(extra.jobId ? { jobId: extra.jobId } : {}),
    ...(verdict.status === 'dead_lettered'
      ? { response: { ...body, data: body.data ? { ...body.data, content: undefined } : body.data } }
      : {}),
  });
}

/** One outage probe (`probeApi`): whether OmniScrape answers, told to the outage detector and logged. */
async function probe(api: OmniScrapeApi, health: OutageDetector, logger: Logger, account: string) {
  try {
    await api.getAsyncJob('scrapeflow-probe', {
      account,
      signal: Context.current().cancellationSignal,
    });
    return true;
  } catch (err) {
    const up = err instanceof NotFoundError || (err instanceof OmniScrapeError && !isOutageSign(err));
    health.record(!up);
    logger.info(
      {
        event: 'outage_probe',
        account,
        up,
        error: (err as Partial<OmniScrapeError>).code ?? null,
      },
      'outage probe',
    );
    return up;
  }
}

export function createScrapeActivities({
  api,
  store,
  logger,
  notifier,
  metrics,
  balanceWatcher,
  permits,
  health = new OutageDetector(),
  optionsCache = new OptionsCache(store),
  tracing,
}: ScrapeActivityDeps) {
  const callApi = createCaller({ logger, metrics, balanceWatcher, permits, health, tracing });

  /** Maps an OmniScrape error through the matrix: a dead letter is recorded, anything else thrown. */
  async function fail(
    input: UrlTask,
    err: unknown,
    { attemptsBefore = 0, jobId }: { attemptsBefore?: number; jobId?: string } = {},
  ): Promise<UrlSummary> {
    const attempt = Context.current().info.attempt;
    const classified = classifyActivityError(err, attempt, input.options.retry, { apiDown: health.down });
    if (classified.kind === 'dead_letter') {
      const error = classified.error;
      const response = (error as { response?: unknown }).response;
      const body = (response ?? { success: false }) as ScrapeResponse;
      return finish(store, input, body, {
        attempts: attemptsBefore + attempt,
        deadLetter: error,
        ...(jobId ? { jobId } : {}),
      });
    }
    if (classified.failure.type === 'RateLimitedError') notifyRateLimited(notifier, logger);
    throw classified.failure;
  }

  return {
    /**
     * Asks OmniScrape whether it answers (while the account's batches are paused for an outage): a
     * status request for a job that does not exist, which costs nothing. Any answer but a 5xx means up.
     */
    probeApi: (args: { account: string }): Promise<boolean> => probe(api, health, logger, args.account),

    /** The synchronous scrape: one call, its record written, a summary returned. */
    async scrapeUrl(task: UrlTaskInput): Promise<UrlSummary> {
      const input = await optionsCache.resolve(task);
      checkSameStore(store, input.options.storeId, { retryable: true });
      const earlier = await earlierTryRecord(store, input, Context.current().info.attempt);
      if (earlier) return earlier;
      let body: ScrapeResponse;
      try {
        body = await callApi({
          input,
          call: 'scrape',
          work: (signal) =>
            api.scrape(requestFor(input), {
              account: input.options.account,
              signal,
              timeoutMs: clientTimeoutMs(input.options.timeouts.scrapeMs),
              // A retry after an answer was delivered but lost gets that answer again, not a second charge.
              idempotencyKey: idempotencyKeyOf(input),
            }),
          describe: (b) => ({ body: b }),
        });
      } catch (err) {
        return fail(input, err);
      }
      return finish(store, input, body, { attempts: Context.current().info.attempt });
    },

    /** Submits the URL as an async job, once: the idempotency key makes a retried submit return the same job. */
    async submitAsyncJob(task: UrlTaskInput): Promise<{ jobId: string; attempts: number }> {
      const input = await optionsCache.resolve(task);
      checkSameStore(store, input.options.storeId, { retryable: true });
      try {
        const res = await callApi({
          input,
          call: 'async_submit',
          work: (signal) =>
            api.submitAsync(requestFor(input, input.options.mode === 'fast' ? 'auto' : input.options.mode), {
              account: input.options.account,
              signal,
              idempotencyKey: idempotencyKeyOf(input),
            }),
          describe: (r) => ({ jobId: r.job_id }),
        });
        return { jobId: res.job_id, attempts: Context.current().info.attempt };
      } catch (err) {
        await fail(input, err);
        throw err; // unreachable: submit errors are never dead letters
      }
    },

    /** One status poll of an async job; on completion the record is written. */
    async pollAsyncJob(task: UrlTaskInput & { jobId: string; attemptsBefore: number }): Promise<PollResult> {
      const input = await optionsCache.resolve(task);
      checkSameStore(store, input.options.storeId, { retryable: true });
      const ofJob = { attemptsBefore: input.attemptsBefore, jobId: input.jobId };
      const asBody = (job: AsyncJobResponse): ScrapeResponse => ({
        success: job.success ?? job.status === 'complete',
        ...job,
      });
      try {
        const job = await callApi({
          input,
          call: 'async_poll',
          work: (signal) => api.getAsyncJob(input.jobId, { account: input.options.account, signal }),
          describe: (j) =>
            j.status === 'queued' || j.status === 'running' ? { pending: true } : { body: asBody(j) },
          jobId: input.jobId,
        });
        if (job.status === 'queued' || job.status === 'running') return { done: false, status: job.status };
        const body = asBody(job);
        if (job.status === 'failed' || !body.success) {
          const error = new AsyncJobFailedError(
            `async job ${input.jobId} failed: ${body.error ?? 'no reason given'}`,
            {
              jobId: input.jobId,
              response: body,
            },
          );
          return { done: true, summary: await fail(input, error, ofJob) };
        }
        return {
          done: true,
          summary: await finish(store, input, body, {
            attempts: input.attemptsBefore + 1,
            jobId: input.jobId,
          }),
        };
      } catch (err) {
        return { done: true, summary: await fail(input, err, ofJob) };
      }
    },
  };
}

export type ScrapeActivities = ReturnType<typeof createScrapeActivities>;

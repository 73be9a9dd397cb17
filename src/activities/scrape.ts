/**
 * Activities that call OmniScrape (task queue `scrape`). Each writes what it learns to the store and
 * returns a small summary; page bodies never go back into workflow history.
 */
import { Context } from '@temporalio/activity';
import type { Logger } from '../logging/logger.js';
import type {
  AsyncJobResponse,
  AsyncSubmitResponse,
  ScrapeRequestInput,
  ScrapeResponse,
} from '../omniscrape/types.js';
import { AsyncJobFailedError, type OmniScrapeError } from '../omniscrape/errors.js';
import type { ResultRecord, ResultStore } from '../store/types.js';
import type { UrlSummary, UrlWorkflowInput } from '../workflows/types.js';
import { checkFields } from '../batch/field-schema.js';
import { classifyActivityError } from './failures.js';

/** The calls the activities make; `OmniScrapeClient` implements it. */
export interface OmniScrapeApi {
  scrape(
    request: ScrapeRequestInput,
    options?: { signal?: AbortSignal; timeoutMs?: number },
  ): Promise<ScrapeResponse>;
  submitAsync(
    request: ScrapeRequestInput,
    options?: { signal?: AbortSignal; idempotencyKey?: string },
  ): Promise<AsyncSubmitResponse>;
  getAsyncJob(jobId: string, options?: { signal?: AbortSignal }): Promise<AsyncJobResponse>;
}

/** Tells a batch that one of its calls was rate limited (for the adaptive window). */
export interface BatchNotifier {
  rateLimited(batchId: string): Promise<void>;
}

export interface ScrapeActivityDeps {
  api: OmniScrapeApi;
  store: ResultStore;
  logger: Logger;
  notifier?: BatchNotifier;
}

export type PollResult = { done: false; status: 'queued' | 'running' } | { done: true; summary: UrlSummary };

/** The client's own timeout stays below the activity's, so our timeout (not Temporal's) fires first. */
export const clientTimeoutMs = (activityTimeoutMs: number) =>
  activityTimeoutMs - Math.min(5000, Math.floor(activityTimeoutMs / 4));

export function requestFor(input: UrlWorkflowInput, mode = input.options.mode): ScrapeRequestInput {
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

export function createScrapeActivities({ api, store, logger, notifier }: ScrapeActivityDeps) {
  const tagsOf = (input: UrlWorkflowInput) => [
    ...new Set([...input.options.tags, ...(input.item.tags ?? [])]),
  ];

  /** Heartbeats while `work` runs, so a dead worker is noticed and cancellation reaches us. */
  async function withHeartbeat<T>(work: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const ctx = Context.current();
    const every = Math.max(200, Math.floor((ctx.info.heartbeatTimeoutMs ?? 30_000) / 3));
    ctx.heartbeat();
    const timer = setInterval(() => ctx.heartbeat(), every);
    try {
      return await work(ctx.cancellationSignal);
    } finally {
      clearInterval(timer);
    }
  }

  /** One structured cost line per OmniScrape call. */
  function logCall(
    input: UrlWorkflowInput,
    call: string,
    started: number,
    body?: ScrapeResponse,
    error?: OmniScrapeError,
  ) {
    logger.info(
      {
        event: 'omniscrape_call',
        call,
        batchId: input.batchId,
        index: input.item.index,
        url: input.item.url,
        tags: tagsOf(input),
        attempt: Context.current().info.attempt,
        success: body?.success ?? false,
        method_used: body?.metadata?.method_used ?? undefined,
        solver_used: body?.metadata?.solver_used ?? undefined,
        challenge_solved: body?.metadata?.challenge_solved ?? undefined,
        charged: body?.billing?.charged ?? 0,
        balance_after: body?.billing?.balance_after ?? undefined,
        duration_ms: Date.now() - started,
        ...(error ? { error_code: error.code, status: error.status } : {}),
      },
      'omniscrape call',
    );
  }

  /** Writes the terminal record for a response (success, or success:false as a dead letter). */
  async function finish(
    input: UrlWorkflowInput,
    body: ScrapeResponse,
    extra: { attempts: number; jobId?: string; deadLetter?: OmniScrapeError },
  ): Promise<UrlSummary> {
    const { batchId, item } = input;
    const fields = body.data?.css_extracted ?? undefined;
    let status: ResultRecord['status'] = extra.deadLetter ? 'dead_lettered' : 'succeeded';
    let reason: string | undefined = extra.deadLetter?.code;
    let detail: string | undefined = extra.deadLetter ? (body.error ?? extra.deadLetter.message) : undefined;
    if (status === 'succeeded' && input.options.schema && fields) {
      const problems = checkFields(fields, input.options.schema);
      if (problems.length) {
        status = 'dead_lettered';
        reason = 'schema_violation';
        detail = problems.join('; ');
      }
    }
    const content = body.data?.content;
    const contentRef = content ? await store.putContent(batchId, item.index, content) : undefined;
    const record: ResultRecord = {
      batchId,
      index: item.index,
      url: item.url,
      status,
      ...(reason ? { reason } : {}),
      ...(detail ? { detail } : {}),
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
      tags: tagsOf(input),
      ...(status === 'dead_lettered'
        ? { response: { ...body, data: body.data ? { ...body.data, content: undefined } : body.data } }
        : {}),
      finishedAt: new Date().toISOString(),
    };
    await store.putResult(record);
    return {
      index: item.index,
      status,
      ...(reason ? { reason } : {}),
      charged: record.charged,
      ...(record.methodUsed ? { methodUsed: record.methodUsed } : {}),
      ...(record.balanceAfter !== undefined ? { balanceAfter: record.balanceAfter } : {}),
      attempts: extra.attempts,
      tags: record.tags ?? [],
    };
  }

  /** Maps an OmniScrape error through the matrix: a dead letter is recorded, anything else thrown. */
  async function fail(
    input: UrlWorkflowInput,
    err: unknown,
    attemptsBefore = 0,
    jobId?: string,
  ): Promise<UrlSummary> {
    const attempt = Context.current().info.attempt;
    const classified = classifyActivityError(err, attempt, input.options.retry);
    if (classified.kind === 'dead_letter') {
      const error = classified.error;
      const response = (error as { response?: unknown }).response;
      const body = (response ?? { success: false }) as ScrapeResponse;
      return finish(input, body, {
        attempts: attemptsBefore + attempt,
        deadLetter: error,
        ...(jobId ? { jobId } : {}),
      });
    }
    if (classified.failure.type === 'RateLimitedError' && notifier) {
      notifier
        .rateLimited(input.batchId)
        .catch((e: unknown) => logger.warn({ err: e }, 'could not notify batch of a 429'));
    }
    throw classified.failure;
  }

  return {
    /** The synchronous scrape: one call, its record written, a summary returned. */
    async scrapeUrl(input: UrlWorkflowInput): Promise<UrlSummary> {
      const started = Date.now();
      try {
        const body = await withHeartbeat((signal) =>
          api.scrape(requestFor(input), {
            signal,
            timeoutMs: clientTimeoutMs(input.options.timeouts.scrapeMs),
          }),
        );
        logCall(input, 'scrape', started, body);
        return await finish(input, body, { attempts: Context.current().info.attempt });
      } catch (err) {
        const error = err as OmniScrapeError;
        const response = (err as { response?: ScrapeResponse }).response;
        logCall(input, 'scrape', started, response, error.code ? error : undefined);
        return fail(input, err);
      }
    },

    /** Submits the URL as an async job, once: the idempotency key makes a retried submit return the same job. */
    async submitAsyncJob(input: UrlWorkflowInput): Promise<{ jobId: string; attempts: number }> {
      const started = Date.now();
      try {
        const res = await withHeartbeat((signal) =>
          api.submitAsync(requestFor(input, input.options.mode === 'fast' ? 'auto' : input.options.mode), {
            signal,
            idempotencyKey: `${input.batchId}/${input.item.index}`,
          }),
        );
        logger.info(
          {
            event: 'async_submitted',
            batchId: input.batchId,
            index: input.item.index,
            url: input.item.url,
            jobId: res.job_id,
            duration_ms: Date.now() - started,
          },
          'async job submitted',
        );
        return { jobId: res.job_id, attempts: Context.current().info.attempt };
      } catch (err) {
        await fail(input, err);
        throw err; // unreachable: submit errors are never dead letters
      }
    },

    /** One status poll of an async job; on completion the record is written. */
    async pollAsyncJob(
      input: UrlWorkflowInput & { jobId: string; attemptsBefore: number },
    ): Promise<PollResult> {
      const started = Date.now();
      try {
        const job = await withHeartbeat((signal) => api.getAsyncJob(input.jobId, { signal }));
        if (job.status === 'queued' || job.status === 'running') return { done: false, status: job.status };
        const body: ScrapeResponse = { success: job.success ?? job.status === 'complete', ...job };
        logCall(input, 'async_result', started, body);
        if (job.status === 'failed' || !body.success) {
          const error = new AsyncJobFailedError(
            `async job ${input.jobId} failed: ${body.error ?? 'no reason given'}`,
            {
              jobId: input.jobId,
              response: body,
            },
          );
          return { done: true, summary: await fail(input, error, input.attemptsBefore, input.jobId) };
        }
        return {
          done: true,
          summary: await finish(input, body, { attempts: input.attemptsBefore + 1, jobId: input.jobId }),
        };
      } catch (err) {
        return { done: true, summary: await fail(input, err, input.attemptsBefore, input.jobId) };
      }
    },
  };
}

export type ScrapeActivities = ReturnType<typeof createScrapeActivities>;

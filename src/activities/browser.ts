/**
 * The browser activity (task queue `browser`, its own worker process): one BaaS session per try over
 * CDP (`chromium.connectOverCDP`), the URL's steps run on a fresh context, the page HTML and/or the
 * extracted fields stored, the terminal record written, a small summary returned.
 *
 * - The session URL is `<browserUrl>?apikey=<key>&render_media=false`, with the key of the batch's
 *   account (`keyOf`; a label without a key fails as `UnknownAccountError` before any session, and the
 *   batch pauses with reason `auth`). It carries the key, so it is built here and nowhere else, never
 *   logged, and no error that leaves this module contains it (Playwright's own messages strip query
 *   strings; ours go through `redactSecrets`, and every key is a registered secret).
 * - Before it connects, the try takes a session permit of the account (`permits`): the account's BaaS
 *   session limit is held across browser workers (src/omniscrape/shared-permits.ts), so a task beyond
 *   it waits, heartbeating and cancellable, for at most `timeouts.permitWaitMs` (then `PlanBusyError`
 *   puts the URL back in its page's queue) instead of opening a session BaaS refuses with 429.
 * - The session heartbeats while it runs; cancellation (and Temporal's timeouts, which cancel too)
 *   close the CDP connection at once. The browser is always closed, on success, error or timeout.
 * - Charge: BaaS bills a session when it opens (the documented price, `sessionPrice`, default
 *   `PRICES.baas_session`, 10 credits), and the CDP stream says nothing about billing. So each
 *   try notes its session in the store (`noteCharge`) as soon as it is connected, and the record charges
 *   every session noted for the URL: a try that died mid-session (worker killed, CDP lost, timeout) is
 *   paid for, and the record says so. The one gap: a worker killed between BaaS handing the session over
 *   and the note being written (a few milliseconds) leaves that session out of the record.
 * - A retry first looks for the URL's record (`earlierTryRecord`): a new session would be billed again.
 *
 * ## Errors into the taxonomy (retries per src/omniscrape/retry-matrix.ts `retryDecision`)
 * | what happened | error | behaviour |
 * | --- | --- | --- |
 * | upgrade refused 401 | `AuthError` | batch pauses (auth) |
 * | upgrade refused 402 | `BalanceExhaustedError` | batch and account pause (balance) |
 * | upgrade refused 429 (session limit) | `RateLimitedError` (`retry_after` of the body) | like a 429 |
 * | upgrade refused 5xx | `UpstreamError` | 3 retries, 5 s apart |
 * | connection refused (nothing listens) | `ConnectionError` (unreachable) | outage: the account's batches pause, a probe resumes them |
 * | connection reset, CDP disconnect, browser closed | `ConnectionError` | 3 retries, 5 s apart |
 * | connect, navigation or step wait timed out | `BrowserTimeoutError` | 3 retries, 5 s apart, then `browser_timeout` |
 * | a step that cannot be done (no such option, scroll condition never held) | `BrowserStepError` | dead-lettered |
 */
import { Context } from '@temporalio/activity';
import { chromium, type Browser } from 'playwright';
import { screenshotBatchId } from '../batch/steps.js';
import type { Logger } from '../logging/logger.js';
import { redactSecrets, registerSecret } from '../logging/secrets.js';
import {
  AuthError,
  BalanceExhaustedError,
  BrowserStepError,
  BrowserTimeoutError,
  ConnectionError,
  OmniScrapeError,
  RateLimitedError,
  UnexpectedStatusError,
  UpstreamError,
} from '../omniscrape/errors.js';
import { PRICES } from '../omniscrape/prices.js';
import { acquireWithin, type PlanPermits, type ReleasePermit } from '../omniscrape/permits.js';
import type { ResultStore } from '../store/types.js';
import { stepsOf, type UrlSummary, type UrlTask, type UrlTaskInput } from '../workflows/types.js';
import { OptionsCache } from './options.js';
import { StepFailed, runSteps } from './browser-steps.js';
import { keepHeartbeating } from './heartbeat.js';
import { checkSameStore, classifyActivityError } from './failures.js';
import { applySchema, earlierTryRecord, writeRecord } from './records.js';
import type { Tracing } from '../tracing/index.js';
import { outcomeClass, sessionAttributes } from '../tracing/attributes.js';
import { notifyRateLimited, type PageNotifier } from './scrape.js';

/** Credits one BaaS session costs. */
export const DEFAULT_SESSION_PRICE = PRICES.baas_session;

export interface BrowserActivityDeps {
  store: ResultStore;
  logger: Logger;
  /** BaaS WebSocket base, without query, e.g. `wss://browser.omniscrape.io` or `ws://127.0.0.1:P/browser`. */
  browserUrl: string;
  /**
   * The OmniScrape API key of a batch's account label (sent as the `apikey` query parameter); throws
   * `UnknownAccountError` for a label without one (`Accounts.resolve`).
   */
  keyOf: (account: string) => string;
  /** Credits a session costs, recorded as the URL's `charged`. @default 10 */
  sessionPrice?: number;
  /** Ask BaaS to block images, media and fonts (`render_media=false`). @default true */
  blockMedia?: boolean;
  /** Budget of the CDP connection (upgrade included), in ms. @default 30000 */
  connectTimeoutMs?: number;
  /** Told about session-limit 429s (the page's adaptive window shrinks). */
  notifier?: PageNotifier;
  /**
   * The accounts' session permits (src/omniscrape/shared-permits.ts): each session holds one of its
   * account's from before it connects until it is closed. Unset: no limit here (tests).
   */
  permits?: PlanPermits;
  /** Batch options by version (src/activities/options.ts). @default a cache of `store` */
  optionsCache?: OptionsCache;
  /** A span per session, when the process traces (src/tracing). */
  tracing?: Pick<Tracing, 'startSpan'>;
}

/** What Playwright says when the upgrade is refused: `WebSocket error: <url> <status> <text>\n<body>`. */
const REFUSED = /WebSocket error: \S+ (\d{3})[^\n]*(?:\n([^\n]*))?/;
const DISCONNECTED =
  /Target page, context or browser has been closed|Browser has been closed|browser has disconnected|Target closed|WebSocket is not open|socket hang up|ECONNRESET|ECONNREFUSED|EPIPE|Connection closed/i;

/** Maps a Playwright/CDP failure into the taxonomy. `connecting`: no session yet. */
export function browserError(err: unknown, connecting: boolean, step?: number): OmniScrapeError {
  if (err instanceof OmniScrapeError) return err;
  const message =
    redactSecrets(err instanceof Error ? err.message : String(err)).split('\nCall log:')[0] ?? '';
  const refused = REFUSED.exec(message);
  if (refused?.[1]) {
    const status = Number(refused[1]);
    let body: { message?: string; retry_after?: number } = {};
    try {
      body = JSON.parse(refused[2] ?? '{}') as typeof body;
    } catch {
      // not JSON: keep the status alone
    }
    const what = `BaaS refused the session: ${status}${body.message ? ` ${body.message}` : ''}`;
    const options = { status, bodyExcerpt: refused[2] };
    if (status === 401) return new AuthError(what, options);
    if (status === 402) return new BalanceExhaustedError(what, options);
    if (status === 429)
      return new RateLimitedError(what, {
        ...options,
        ...(typeof body.retry_after === 'number' ? { retryAfterMs: body.retry_after * 1000 } : {}),
      });
    if (status >= 500) return new UpstreamError(what, options);
    return new UnexpectedStatusError(what, options);
  }
  const firstLine = message.split('\n')[0]?.slice(0, 500) ?? '';
  if (err instanceof Error && err.name === 'TimeoutError')
    return new BrowserTimeoutError(`browser ${connecting ? 'connection' : 'step'} timed out: ${firstLine}`);
  if (connecting || DISCONNECTED.test(message))
    return new ConnectionError(`browser session ${connecting ? 'unreachable' : 'lost'}: ${firstLine}`, {
      // Refused while connecting: nothing answers at BaaS's address, an outage of OmniScrape.
      unreachable: connecting && /ECONNREFUSED|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH/.test(message),
    });
  const index = err instanceof StepFailed ? err.step : step;
  return new BrowserStepError(`${index === undefined ? 'browser' : `step ${index}`}: ${firstLine}`, {
    ...(index !== undefined ? { step: index } : {}),
  });
}

export function createBrowserActivities(deps: BrowserActivityDeps) {
  const { store, logger, browserUrl, keyOf, notifier, permits } = deps;
  const sessionPrice = deps.sessionPrice ?? DEFAULT_SESSION_PRICE;
  const optionsCache = deps.optionsCache ?? new OptionsCache(store);
  const endpoint = (account: string): string => {
    const key = keyOf(account);
    registerSecret(key);
    const url = new URL(browserUrl);
    url.searchParams.set('apikey', key);
    url.searchParams.set('render_media', deps.blockMedia === false ? 'true' : 'false');
    return url.toString();
  };
  /** Writes the terminal record (succeeded or dead-lettered), charging every session noted for the URL. */
  async function finish(
    input: UrlTask,
    result: { html?: string; fields?: Record<string, string | null>; deadLetter?: OmniScrapeError },
  ): Promise<UrlSummary> {
    const { batchId, item } = input;
    const attempts = Context.current().info.attempt;
    const verdict = applySchema(
      result.deadLetter
        ? { status: 'dead_lettered', reason: result.deadLetter.code, detail: result.deadLetter.message }
        : { status: 'succeeded' },
      result.fields,
      input,
    );
    const contentRef = result.html ? await store.putContent(batchId, item.index, result.html) : undefined;
    // A dead letter comes from a session that was opened (and billed): steps fail only inside one.
    return writeRecord(store, input, verdict, {
      methodUsed: 'browser',
      charged: await store.notedCharges(batchId, item.index),
      attempts,
      ...(result.fields ? { fields: result.fields } : {}),
      ...(contentRef ? { contentRef } : {}),
    });
  }

  return {
    /** One BaaS session: connect, run the steps, store, write the record. */
    async browseUrl(task: UrlTaskInput): Promise<UrlSummary> {
      const ctx = Context.current();
      const input = await optionsCache.resolve(task);
      checkSameStore(store, input.options.storeId, { retryable: true });
      const earlier = await earlierTryRecord(store, input, ctx.info.attempt);
      if (earlier) return earlier;
      const signal = ctx.cancellationSignal;
      const started = Date.now();
      const log = logger.child({ batchId: input.batchId, index: input.item.index, url: input.item.url });
      let step: number | undefined;
      const stopHeartbeat = keepHeartbeating(() => (step === undefined ? undefined : { step }));
      let browser: Browser | undefined;
      let release: ReleasePermit | undefined;
      let connecting = true;
      const onAbort = (): void => {
        void browser?.close().catch(() => undefined);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      let outcome = 'success';
      const span = deps.tracing?.startSpan('omniscrape browser_session');
      try {
        if (permits) release = await acquireWithin(permits, input.options, signal, 'browser');
        browser = await chromium.connectOverCDP(endpoint(input.options.account), {
          timeout: deps.connectTimeoutMs ?? 30_000,
        });
        connecting = false;
        // Billed from here on, whatever happens to this try.
        const { workflowExecution, activityId, attempt } = ctx.info;
        await store.noteCharge(
          input.batchId,
          input.item.index,
          `${workflowExecution?.runId ?? '-'}.${activityId}.${attempt}`,
          sessionPrice,
        );
        if (signal?.aborted) throw signal.reason;
        const context = await browser.newContext();
        const page = await context.newPage();
        const steps = stepsOf(input) ?? [];
        if (steps[0]?.action !== 'goto')
          await page.goto(input.item.url, { waitUntil: 'domcontentloaded', timeout: 30_000 });
        let fields = await runSteps(page, input.item.url, steps, {
          onStep: (index) => {
            step = index;
            ctx.heartbeat({ step: index });
          },
          screenshot: (name, png) =>
            store.putContent(
              screenshotBatchId(input.batchId, name),
              input.item.index,
              png.toString('base64'),
            ),
        });
        step = undefined;
        const { outputFormat, cssSelectors } = input.options;
        let html: string | undefined = await page.content();
        if (outputFormat === 'css_extractor' && cssSelectors) {
          const extracted = await runSteps(
            page,
            input.item.url,
            [{ action: 'extract', fields: cssSelectors, all: false }],
            { screenshot: () => Promise.reject(new Error('no screenshots here')) },
          );
          fields = { ...fields, ...extracted };
          html = undefined;
        }
        return await finish(input, {
          ...(html !== undefined ? { html } : {}),
          ...(fields ? { fields } : {}),
        });
      } catch (err) {
        if (signal?.aborted) {
          outcome = 'cancelled';
          throw signal.reason;
        }
        const error = browserError(err, connecting, step);
        outcome = error.code;
        const classified = classifyActivityError(error, ctx.info.attempt, input.options.retry);
        if (classified.kind === 'dead_letter') {
          outcome = 'dead_lettered';
          return await finish(input, { deadLetter: classified.error });
        }
        if (classified.failure.type === 'RateLimitedError') notifyRateLimited(notifier, log);
        throw classified.failure;
      } finally {
        stopHeartbeat();
        signal?.removeEventListener('abort', onAbort);
        await browser?.close().catch(() => undefined);
        await release?.();
        log.info(
          {
            event: 'browser_session',
            outcome,
            account: input.options.account,
            attempt: ctx.info.attempt,
            step: step ?? null,
            duration_ms: Date.now() - started,
          },
          'browser session',
        );
        const charged = connecting ? 0 : sessionPrice;
        const session = {
          outcome,
          account: input.options.account,
          attempt: ctx.info.attempt,
          url: input.item.url,
          charged,
        };
        span?.end(sessionAttributes(session), outcomeClass(outcome) === 'error' ? outcome : undefined);
      }
    },
  };
}

export type BrowserActivities = ReturnType<typeof createBrowserActivities>;

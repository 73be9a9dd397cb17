/**
 * The scraping engine: what `fast`, `js_rendering` and `auto` do.
 *
 * - `fast`: one GET with undici (one shared Agent, redirects followed, connect/headers/body timeouts, a
 *   body size cap). A target answering 4xx/5xx gives `success: false` with `error: 'target_http_error'`
 *   and `metadata.target_status`; a target that cannot be reached gives `target_unreachable` (or
 *   `target_timeout`, `target_too_large`); an anti-bot challenge page gives `challenge_not_solved`.
 * - `js_rendering`: the page rendered in Chromium by the Renderer, waiting for `js_wait_selector` up to
 *   `js_wait_timeout` ms (default 30000). With `enable_solver` the renderer solves the challenge it meets
 *   (`solver_used`, `challenge_solved`); an unsolved challenge gives `challenge_not_solved`, a wait
 *   selector that never appears gives `wait_selector_timeout`; a navigation that fails gives
 *   `target_unreachable` or `target_timeout`, any other renderer error `render_failed`.
 * - `auto`: `fast` first, escalating to rendering when
 *   1. the fetched page is an anti-bot challenge (`isChallengePage`), or
 *   2. its content needs JavaScript to appear (`needsRendering`), or
 *   3. the request is `css_extractor`, every selector came back null, and the page has `<script>` tags.
 *   Fetch failures (unreachable, timeout) and target 4xx/5xx that are not challenges do not escalate.
 *   Before escalating, the request's credit hold is raised to the rendering price (402 if it cannot be).
 * `metadata.method_used` says what produced the answer. A fast fetch's body is returned as it came: text
 * (valid UTF-8: HTML, XML, robots.txt) unmodified, anything else (a gzip sitemap) base64-encoded with
 * `metadata.content_encoding: "base64"` and `metadata.content_type` (the target's `Content-Type`).
 */
import { Agent, errors as undiciErrors, interceptors, request, type Dispatcher } from 'undici';
import type { MethodUsed, ScrapeRequest } from '../../src/omniscrape/types.js';
import { COST_TABLE, priceOf } from './billing.js';
import { isChallengePage, needsRendering } from './challenge.js';
import { extract } from './extract.js';
import type { RenderJob, RenderResult } from './renderer.js';

/** What the engine needs of a renderer: `Renderer`, or a stand-in in tests. */
export interface RenderBackend {
  render(job: RenderJob): Promise<RenderResult>;
  close(): Promise<void>;
}

export interface EngineOptions {
  /** Returns the renderer, creating it on first use. */
  renderer: () => RenderBackend;
  /** Called as each render starts (for counters). */
  onRenderStart?: () => void;
  /** Connect, headers and body timeouts of a fast fetch, in ms. @default 30000 */
  fetchTimeoutMs?: number;
  /** Largest target body a fast fetch reads, in bytes. @default 10485760 (10 MiB) */
  maxBodyBytes?: number;
  /** Redirects a fast fetch follows. @default 5 */
  maxRedirects?: number;
  /** @default 'Mozilla/5.0 (compatible; scrapeflow-local-api/0.1)' */
  userAgent?: string;
}

/** What one scrape produced, before billing. */
export interface ScrapeOutcome {
  success: boolean;
  /** The page HTML, when a page was obtained. */
  html: string | null;
  /** `css_extractor` results, when requested and successful. */
  cssExtracted: Record<string, string | null> | null;
  methodUsed: MethodUsed;
  solverUsed: boolean;
  challengeSolved: boolean;
  targetStatus: number | null;
  /** Why the scrape failed, when it did. */
  error: string | null;
  /** What a success costs; 0 for failures. */
  price: number;
  /** The target's `Content-Type`, when a fast fetch got one. */
  contentType?: string;
  /** Set when `html` holds a body that is not UTF-8 text, base64-encoded. */
  contentEncoding?: 'base64';
}

export type EngineResult =
  { kind: 'done'; outcome: ScrapeOutcome } | { kind: 'insufficient_balance'; needed: number };

export interface RunContext {
  signal: AbortSignal;
  /** Makes sure `credits` are held for this request; false when the balance cannot cover them. */
  ensureCredits: (credits: number) => boolean;
}

type FetchResult =
  | { ok: true; status: number; html: string; contentType?: string; contentEncoding?: 'base64' }
  | { ok: false; error: string };

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A body as the API returns it: UTF-8 text as is, other bytes base64-encoded (and said so). */
function bodyText(bytes: Buffer): { html: string; contentEncoding?: 'base64' } {
  try {
    return { html: utf8.decode(bytes) };
  } catch {
    return { html: bytes.toString('base64'), contentEncoding: 'base64' };
  }
}

const failure = (
  methodUsed: MethodUsed,
  error: string,
  extra: Partial<ScrapeOutcome> = {},
): ScrapeOutcome => ({
  success: false,
  html: null,
  cssExtracted: null,
  methodUsed,
  solverUsed: false,
  challengeSolved: false,
  targetStatus: null,
  error,
  price: 0,
  ...extra,
});

export class Engine {
  readonly #options: EngineOptions;
  readonly #agent: Agent;
  readonly #dispatcher: Dispatcher;

  constructor(options: EngineOptions) {
    this.#options = options;
    const timeout = options.fetchTimeoutMs ?? 30_000;
    this.#agent = new Agent({ connect: { timeout }, headersTimeout: timeout, bodyTimeout: timeout });
    this.#dispatcher = this.#agent.compose(
      interceptors.redirect({ maxRedirections: options.maxRedirects ?? 5 }),
    );
  }

  async run(req: ScrapeRequest, ctx: RunContext): Promise<EngineResult> {
    if (req.mode === 'js_rendering') return this.#render(req, ctx);
    const fetched = await this.#fetch(req.url, ctx.signal);
    if (!fetched.ok) return { kind: 'done', outcome: failure('fast', fetched.error) };
    const { status, html } = fetched;
    const challenge = isChallengePage(html);
    if (req.mode === 'auto' && (challenge || needsRendering(html))) return this.#render(req, ctx);
    if (challenge) return done(failure('fast', 'challenge_not_solved', { targetStatus: status }));
    if (status >= 400) return done(failure('fast', 'target_http_error', { targetStatus: status }));
    if (status >= 300) return done(failure('fast', 'too_many_redirects', { targetStatus: status }));
    const outcome = {
      ...this.#succeed(req, html, 'fast', {
        targetStatus: status,
        solverUsed: false,
        challengeSolved: false,
      }),
      ...(fetched.contentType !== undefined ? { contentType: fetched.contentType } : {}),
      ...(fetched.contentEncoding ? { contentEncoding: fetched.contentEncoding } : {}),
    };
    const extracted = outcome.cssExtracted;
    if (
      req.mode === 'auto' &&
      extracted &&
      Object.values(extracted).every((v) => v === null) &&
      /<script[\s>]/i.test(html)
    )
      return this.#render(req, ctx);
    return done(outcome);
  }

  async close(): Promise<void> {
    await this.#agent.close();
  }

  #succeed(
    req: ScrapeRequest,
    html: string,
    methodUsed: MethodUsed,
    {
      targetStatus,
      solverUsed,
      challengeSolved,
    }: { targetStatus: number; solverUsed: boolean; challengeSolved: boolean },
  ): ScrapeOutcome {
    const cssExtracted =
      req.output_format === 'css_extractor' && req.css_selectors ? extract(html, req.css_selectors) : null;
    return {
      success: true,
      html,
      cssExtracted,
      methodUsed,
      solverUsed,
      challengeSolved,
      targetStatus,
      error: null,
      price: priceOf(methodUsed, solverUsed),
    };
  }

  async #render(req: ScrapeRequest, ctx: RunContext): Promise<EngineResult> {
    if (!ctx.ensureCredits(COST_TABLE.js_rendering))
      return { kind: 'insufficient_balance', needed: COST_TABLE.js_rendering };
    this.#options.onRenderStart?.();
    let result;
    try {
      result = await this.#options.renderer().render({
        url: req.url,
        waitSelector: req.js_wait_selector,
        waitTimeoutMs: req.js_wait_timeout ?? 30_000,
        solve: req.enable_solver,
        signal: ctx.signal,
      });
    } catch (err) {
      if (ctx.signal.aborted) throw err;
      return done(failure('js_rendering', renderError(err)));
    }
    const meta = {
      targetStatus: result.status,
      solverUsed: result.solverUsed,
      challengeSolved: result.challengeSolved,
    };
    if (result.challengeDetected && !result.challengeSolved)
      return done(failure('js_rendering', 'challenge_not_solved', meta));
    if (result.status >= 400) return done(failure('js_rendering', 'target_http_error', meta));
    if (result.waitTimedOut) return done(failure('js_rendering', 'wait_selector_timeout', meta));
    return done(this.#succeed(req, result.html, 'js_rendering', meta));
  }

  async #fetch(url: string, signal: AbortSignal): Promise<FetchResult> {
    const cap = this.#options.maxBodyBytes ?? 10 * 1024 * 1024;
    try {
      const res = await request(url, {
        dispatcher: this.#dispatcher,
        method: 'GET',
        headers: {
          'user-agent': this.#options.userAgent ?? 'Mozilla/5.0 (compatible; scrapeflow-local-api/0.1)',
          accept: 'text/html,application/xhtml+xml,*/*;q=0.8',
        },
        signal,
      });
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of res.body as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > cap) {
          res.body.destroy();
          return { ok: false, error: 'target_too_large' };
        }
        chunks.push(chunk);
      }
      const type = res.headers['content-type'];
      return {
        ok: true,
        status: res.statusCode,
        ...bodyText(Buffer.concat(chunks)),
        ...(typeof type === 'string' ? { contentType: type } : {}),
      };
    } catch (err) {
      if (signal.aborted) throw err;
      if (
        err instanceof undiciErrors.ConnectTimeoutError ||
        err instanceof undiciErrors.HeadersTimeoutError ||
        err instanceof undiciErrors.BodyTimeoutError
      )
        return { ok: false, error: 'target_timeout' };
      return { ok: false, error: 'target_unreachable' };
    }
  }
}

/** A navigation that failed on the network or timed out says so; anything else is a crash. */
function renderError(err: unknown): string {
  if (err instanceof Error && err.name === 'TimeoutError') return 'target_timeout';
  if (err instanceof Error && /net::ERR_/.test(err.message)) return 'target_unreachable';
  return 'render_failed';
}

function done(outcome: ScrapeOutcome): EngineResult {
  return { kind: 'done', outcome };
}

/**
 * Rendering for the local API: one Chromium (Playwright) reused across jobs, a fresh context per job,
 * a bounded number of open pages, and the demo site's challenge solver.
 *
 * A job: navigate (`domcontentloaded`), settle briefly (up to `settleMs` for the `load` event), then
 * - if the document is a challenge (`isChallengePage`): with `solve` run the solver, otherwise return
 *   the challenge as it is (`challengeDetected: true`; `waitSelector` is then not waited for, since it
 *   cannot appear behind the challenge);
 * - wait for `waitSelector` to be attached to the DOM. A wait that times out still returns the HTML
 *   rendered so far, with `waitTimedOut: true`: the caller decides whether partial content is a failure.
 *
 * Errors: an aborted job rejects with `signal.reason`; navigation failures (connection refused,
 * navigation timeout) reject with Playwright's error (`name` `TimeoutError` for timeouts).
 */
import type { Browser, BrowserContext, Page, Response } from 'playwright';
import { CHROMIUM_ARGS, findChromium } from '../../src/config/binaries.js';
import { challengeProof } from '../demo-site/challenge.js';
import type { Logger } from '../../src/logging/logger.js';
import { isChallengePage } from './challenge.js';

export interface RendererOptions {
  /** Chromium binary. @default findChromium() */
  chromiumPath?: string;
  /** Pages rendering at once; further jobs wait. @default 2 */
  maxPages?: number;
  logger?: Logger;
  /** Budget of each navigation (the first one and the solver's), in ms. @default 30000 */
  navigationTimeoutMs?: number;
  /** After `domcontentloaded`, how long to wait at most for the `load` event, in ms. @default 500 */
  settleMs?: number;
}

export interface RenderJob {
  url: string;
  /** Wait for this selector (attached to the DOM, visible or not) after load. */
  waitSelector?: string;
  /** How long to wait for `waitSelector`, in ms. @default 30000 */
  waitTimeoutMs?: number;
  /** Try to solve an anti-bot challenge the page serves. */
  solve: boolean;
  /** Block images, media and fonts. @default false */
  blockMedia?: boolean;
  signal?: AbortSignal;
}

export interface RenderResult {
  /** The rendered document's HTML. */
  html: string;
  /** HTTP status of the main document (the last navigation's); 0 when there was no network response. */
  status: number;
  /** A challenge was met on the page. */
  challengeDetected: boolean;
  /** The solver ran. */
  solverUsed: boolean;
  /** The solver passed the challenge. */
  challengeSolved: boolean;
  /** `waitSelector` did not appear in time (the HTML is what had rendered by then). */
  waitTimedOut: boolean;
  /** URL of the document returned, after redirects. Always set by `Renderer`. */
  finalUrl?: string;
  /** Requests refused because of `blockMedia`. Always set by `Renderer`. */
  blockedRequests?: number;
}

export interface RendererStats {
  /** Chromium launches so far (1 while the browser stays up). */
  launches: number;
  /** Jobs holding a page slot now. */
  openPages: number;
  /** Jobs waiting for a page slot now. */
  waitingJobs: number;
  /** Most page slots held at once since the renderer was created. */
  peakOpenPages: number;
}

const DEFAULT_MAX_PAGES = 2;
const DEFAULT_WAIT_TIMEOUT_MS = 30_000;
const DEFAULT_NAVIGATION_TIMEOUT_MS = 30_000;
const DEFAULT_SETTLE_MS = 500;
/** Playwright resource types `blockMedia` refuses. */
const MEDIA_TYPES = new Set(['image', 'media', 'font']);

function isTimeout(err: unknown): boolean {
  return err instanceof Error && err.name === 'TimeoutError';
}

function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : new DOMException('render aborted', 'AbortError');
}

/** A counting semaphore whose waiters can leave when their signal aborts. */
class Slots {
  #free: number;
  readonly #queue: Array<() => void> = [];

  constructor(size: number) {
    this.#free = size;
  }

  get waiting(): number {
    return this.#queue.length;
  }

  /** Resolves with a release function once a slot is free (synchronously queued). */
  acquire(signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    if (this.#free > 0) {
      this.#free--;
      return Promise.resolve(this.#releaser());
    }
    return new Promise((resolve, reject) => {
      const grant = (): void => {
        signal?.removeEventListener('abort', onAbort);
        resolve(this.#releaser());
      };
      const onAbort = (): void => {
        const i = this.#queue.indexOf(grant);
        if (i >= 0) this.#queue.splice(i, 1);
        reject(abortReason(signal as AbortSignal));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#queue.push(grant);
    });
  }

  #releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#queue.shift();
      if (next) next();
      else this.#free++;
    };
  }
}

/**
 * Runs in the page: reads the challenge nonce, computes the proof with `crypto.subtle` (or takes the
 * one given, when the page is not a secure context), fills `#challenge-form` and submits it.
 */
function solverScript(proof: string | null): string {
  return `(async (given) => {
  const root = document.querySelector('[data-challenge-nonce]');
  const form = document.querySelector('form#challenge-form');
  if (!root || !form) return { state: 'no-challenge' };
  const nonce = root.getAttribute('data-challenge-nonce') || '';
  let proof = given;
  if (proof === null) {
    if (!globalThis.crypto || !crypto.subtle) return { state: 'need-proof', nonce };
    const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(nonce));
    proof = Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('').slice(0, 16);
  }
  form.querySelector('input[name="proof"]').value = proof;
  form.submit();
  return { state: 'submitted' };
})(${JSON.stringify(proof)})`;
}

type SolverState =
  { state: 'no-challenge' } | { state: 'need-proof'; nonce: string } | { state: 'submitted' };

export class Renderer {
  readonly #slots: Slots;
  #browser: Promise<Browser> | undefined;
  #closed = false;
  #launches = 0;
  #open = 0;
  #peak = 0;

  constructor(readonly options: RendererOptions = {}) {
    const maxPages = options.maxPages ?? DEFAULT_MAX_PAGES;
    if (!Number.isInteger(maxPages) || maxPages < 1) {
      throw new RangeError(`maxPages must be a positive integer, got ${maxPages}`);
    }
    this.#slots = new Slots(maxPages);
  }

  stats(): RendererStats {
    return {
      launches: this.#launches,
      openPages: this.#open,
      waitingJobs: this.#slots.waiting,
      peakOpenPages: this.#peak,
    };
  }

  /**
   * Renders one page in a fresh browser context. Waits for a page slot first (`maxPages`); the wait
   * is queued synchronously, so `stats().waitingJobs` counts the job as soon as `render` returns.
   */
  async render(job: RenderJob): Promise<RenderResult> {
    const { signal } = job;
    if (this.#closed) throw new Error('Renderer is closed');
    const release = await this.#slots.acquire(signal);
    this.#open++;
    this.#peak = Math.max(this.#peak, this.#open);
    let context: BrowserContext | undefined;
    const onAbort = (): void => {
      context?.close().catch(() => undefined);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    const started = Date.now();
    try {
      if (this.#closed) throw new Error('Renderer is closed');
      context = await this.#newContext();
      signal?.throwIfAborted();
      const result = await this.#run(context, job);
      this.options.logger?.debug(
        {
          url: job.url,
          status: result.status,
          ms: Date.now() - started,
          challenge: result.challengeDetected,
        },
        'rendered',
      );
      return result;
    } catch (err) {
      if (signal?.aborted) throw abortReason(signal);
      throw err;
    } finally {
      signal?.removeEventListener('abort', onAbort);
      await context?.close().catch(() => undefined);
      this.#open--;
      release();
    }
  }

  /** Closes the browser; jobs still running fail, later ones are refused. */
  async close(): Promise<void> {
    this.#closed = true;
    const browser = this.#browser;
    this.#browser = undefined;
    if (browser === undefined) return;
    const launched = await browser.catch(() => undefined);
    await launched?.close();
  }

  /**
   * A fresh context in the shared browser. A browser that died before its `disconnected` event reached
   * us fails here: it is replaced once, so the job does not fail for a crash that happened between jobs.
   */
  async #newContext(): Promise<BrowserContext> {
    for (let attempt = 1; ; attempt++) {
      const launching = this.#launch();
      const browser = await launching;
      try {
        return await browser.newContext();
      } catch (err) {
        if (attempt >= 2 || browser.isConnected()) throw err;
        if (this.#browser === launching) this.#browser = undefined;
      }
    }
  }

  /** The shared browser, launched on first use and again after it disconnected. */
  #launch(): Promise<Browser> {
    if (this.#browser !== undefined) return this.#browser;
    if (this.#closed) return Promise.reject(new Error('Renderer is closed'));
    this.#launches++;
    // Playwright loads with the first render: a local API that never renders (most of them) skips it.
    const launching = (async () =>
      (await import('playwright')).chromium.launch({
        executablePath: this.options.chromiumPath ?? findChromium(),
        args: CHROMIUM_ARGS,
        headless: true,
      }))();
    this.#browser = launching;
    launching.then(
      (browser) => {
        this.options.logger?.info({ version: browser.version() }, 'chromium launched');
        browser.on('disconnected', () => {
          if (this.#browser === launching) this.#browser = undefined;
          if (!this.#closed) this.options.logger?.warn('chromium disconnected; the next job relaunches it');
        });
      },
      (err: unknown) => {
        if (this.#browser === launching) this.#browser = undefined;
        this.options.logger?.error({ err }, 'chromium launch failed');
      },
    );
    return launching;
  }

  async #run(context: BrowserContext, job: RenderJob): Promise<RenderResult> {
    const navigationTimeoutMs = this.options.navigationTimeoutMs ?? DEFAULT_NAVIGATION_TIMEOUT_MS;
    let blockedRequests = 0;
    if (job.blockMedia) {
      await context.route('**/*', (route) => {
        if (MEDIA_TYPES.has(route.request().resourceType())) {
          blockedRequests++;
          return route.abort('blockedbyclient');
        }
        return route.continue();
      });
    }
    const page = await context.newPage();
    const response = await page.goto(job.url, {
      waitUntil: 'domcontentloaded',
      timeout: navigationTimeoutMs,
    });
    let status = response?.status() ?? 0;
    await this.#settle(page);
    let html = await content(page);

    const challengeDetected = isChallengePage(html);
    let solverUsed = false;
    let challengeSolved = false;
    if (challengeDetected && job.solve) {
      solverUsed = true;
      const solved = await this.#solve(page, navigationTimeoutMs);
      if (solved !== undefined) status = solved;
      html = await content(page);
      challengeSolved = !isChallengePage(html);
    }

    let waitTimedOut = false;
    if (job.waitSelector !== undefined && (!challengeDetected || challengeSolved)) {
      try {
        await page.waitForSelector(job.waitSelector, {
          state: 'attached',
          timeout: job.waitTimeoutMs ?? DEFAULT_WAIT_TIMEOUT_MS,
        });
      } catch (err) {
        if (!isTimeout(err) || job.signal?.aborted) throw err;
        waitTimedOut = true;
      }
    }
    if (job.waitSelector !== undefined || solverUsed) html = await content(page);
    return {
      html,
      status,
      challengeDetected,
      solverUsed,
      challengeSolved,
      waitTimedOut,
      finalUrl: page.url(),
      blockedRequests,
    };
  }

  /** Lets scripts run briefly after `domcontentloaded`: waits for `load`, at most `settleMs`. */
  async #settle(page: Page): Promise<void> {
    try {
      await page.waitForLoadState('load', { timeout: this.options.settleMs ?? DEFAULT_SETTLE_MS });
    } catch (err) {
      if (!isTimeout(err)) throw err;
    }
  }

  /**
   * Solves the demo site's challenge (protocol in devkit/demo-site/challenge.ts): submits the proof from
   * page context and waits for the document the verification leads to. Returns that document's status,
   * or undefined when the page held no challenge form.
   */
  async #solve(page: Page, timeoutMs: number): Promise<number | undefined> {
    const mainFrame = page.mainFrame();
    const isFinalNavigation = (r: Response): boolean =>
      r.frame() === mainFrame &&
      r.request().isNavigationRequest() &&
      !(r.status() >= 300 && r.status() < 400);
    // Both waits start before the submission, so neither can miss its event.
    const response = page.waitForResponse(isFinalNavigation, { timeout: timeoutMs });
    const committed = page.waitForEvent('framenavigated', {
      predicate: (f) => f === mainFrame,
      timeout: timeoutMs,
    });
    response.catch(() => undefined);
    committed.catch(() => undefined);

    let outcome = await page.evaluate<SolverState>(solverScript(null));
    if (outcome.state === 'need-proof') {
      outcome = await page.evaluate<SolverState>(solverScript(challengeProof(outcome.nonce)));
    }
    if (outcome.state !== 'submitted') return undefined;
    const final = await response;
    await committed;
    await page.waitForLoadState('domcontentloaded', { timeout: timeoutMs });
    return final.status();
  }
}

/** `page.content()`, retried while a navigation replaces the document (bounded). */
async function content(page: Page): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await page.content();
    } catch (err) {
      if (attempt >= 3 || !(err instanceof Error) || !/navigating/i.test(err.message)) throw err;
      await page.waitForLoadState('domcontentloaded');
    }
  }
}

/**
 * How the sitemap reader gets a file's bytes: a direct GET (undici: connect, headers and body timeouts,
 * a total deadline, redirects followed by hand — at most `maxRedirects`, http(s) only, never from https
 * down to http — a size cap while streaming, and in workers the webhook SSRF guard), or through
 * OmniScrape (a `fast` scrape, charged and logged as an `omniscrape_call` cost line like any call). A
 * failure is a `SitemapError` naming the URL.
 */
import { Agent, errors as undiciErrors, request } from 'undici';
import type { Logger } from '../logging/logger.js';
import { withoutCredentials } from '../logging/url-credentials.js';
import type { OmniScrapeApi } from '../omniscrape/api.js';
import type { ScrapeResponse } from '../omniscrape/types.js';
import { OmniScrapeError, ScrapeFailedError } from '../omniscrape/errors.js';
import { SitemapError } from '../errors.js';
import { checkEndpointUrl, guardedLookup, RefusedAddressError, type AllowList } from '../webhooks/ssrf.js';
import { MAX_SITEMAP_BYTES } from './parse.js';

/** Gets one file's bytes (gzip or not: the parser looks at them). */
export type SitemapFetcher = (url: string, signal?: AbortSignal) => Promise<Buffer>;

export interface DirectFetchOptions {
  /** Connect, headers and body (between chunks) timeouts, ms. @default 30000 */
  timeoutMs?: number;
  /** Largest body read, in bytes, as fetched (compressed or not). @default 52428800 (50 MB) */
  maxBytes?: number;
  /** Redirects followed. @default 5 */
  maxRedirects?: number;
  /** The whole fetch of one file (redirects and body included), ms. @default 120000 */
  totalTimeoutMs?: number;
  /**
   * The SSRF guard (src/webhooks/ssrf.ts) with its allowlist: every address connected to (each
   * redirect's too) must be public unless allowed. Workers set it — a monitor's sitemap URL comes from
   * whoever holds a token of the HTTP service; the CLI's own `start --sitemap` on the user's machine
   * does not. @default no guard
   */
  guard?: AllowList;
  /** @default 'scrapeflow-sitemap/0.1' */
  userAgent?: string;
}

/** OmniScrape errors that may pass on a retry (the rest are the account's or the request's). */
const TRANSIENT = new Set(['rate_limited', 'upstream', 'client_timeout', 'connection', 'plan_busy']);

function fetchFailed(url: string, message: string, retryable: boolean, cause?: unknown): SitemapError {
  return new SitemapError(`sitemap ${withoutCredentials(url)}: ${message}`, {
    url,
    problem: 'fetch_failed',
    retryable,
    ...(cause !== undefined ? { cause } : {}),
  });
}

/**
 * Where a redirect from `from` to `location` goes, or a refusal: http(s) only, and never from https
 * down to http (a sitemap asked for over TLS is not read in clear).
 */
export function redirectTarget(from: string, location: string): URL | string {
  let next: URL;
  try {
    next = new URL(location, from);
  } catch {
    return `redirects to ${JSON.stringify(location.slice(0, 200))}, which is not a URL`;
  }
  if (next.protocol !== 'http:' && next.protocol !== 'https:')
    return `redirects to a ${next.protocol.replace(':', '')} URL: http(s) only`;
  if (new URL(from).protocol === 'https:' && next.protocol === 'http:')
    return `redirects from https to http (${withoutCredentials(next.href)}): refused`;
  return next;
}

/** A direct fetcher with its own connection pool; `close()` ends it. */
export function directFetcher(options: DirectFetchOptions = {}): {
  fetch: SitemapFetcher;
  close(): Promise<void>;
} {
  const timeout = options.timeoutMs ?? 30_000;
  const total = options.totalTimeoutMs ?? 120_000;
  const maxRedirects = options.maxRedirects ?? 5;
  const cap = options.maxBytes ?? MAX_SITEMAP_BYTES;
  const guard = options.guard;
  const agent = new Agent({
    connect: { timeout, ...(guard ? { lookup: guardedLookup(guard) } : {}) },
    headersTimeout: timeout,
    bodyTimeout: timeout,
  });

  /** One GET without following redirects; a refused address or a timeout is a SitemapError. */
  const get = async (url: string, target: string, signal: AbortSignal, deadline: AbortSignal) => {
    // Sockets look up names only: an IP literal (or a name, once more) is checked here.
    if (guard)
      await checkEndpointUrl(target, { allowHttp: true, allow: guard }).catch((err: Error) => {
        throw fetchFailed(url, `refused: ${err.message.replace(/^url: /, '')}`, false, err);
      });
    try {
      return await request(target, {
        dispatcher: agent,
        method: 'GET',
        headers: {
          'user-agent': options.userAgent ?? 'scrapeflow-sitemap/0.1',
          accept: 'application/xml, text/xml, application/gzip, text/plain;q=0.9, */*;q=0.5',
        },
        signal,
      });
    } catch (err) {
      if (deadline.aborted) throw fetchFailed(url, `not fetched within ${total} ms`, true, err);
      if (signal.aborted) throw err;
      const refused = (err as { cause?: unknown }).cause ?? err;
      if (refused instanceof RefusedAddressError || err instanceof RefusedAddressError)
        throw fetchFailed(url, `refused: ${(refused as Error).message}`, false, err);
      const timedOut =
        err instanceof undiciErrors.ConnectTimeoutError || err instanceof undiciErrors.HeadersTimeoutError;
      throw fetchFailed(
        url,
        timedOut ? `no answer within ${timeout} ms` : `cannot fetch: ${(err as Error).message}`,
        true,
        err,
      );
    }
  };

  const fetch: SitemapFetcher = async (url, outer) => {
    const deadline = AbortSignal.timeout(total);
    const signal = outer ? AbortSignal.any([outer, deadline]) : deadline;
    let target = url;
    let res = await get(url, target, signal, deadline);
    for (let hops = 0; res.statusCode >= 300 && res.statusCode < 400; hops += 1) {
      const location = res.headers.location;
      await res.body.dump();
      if (typeof location !== 'string')
        throw fetchFailed(url, `answered HTTP ${res.statusCode} without a Location`, false);
      if (hops >= maxRedirects) throw fetchFailed(url, `more than ${maxRedirects} redirects`, false);
      const next = redirectTarget(target, location);
      if (typeof next === 'string') throw fetchFailed(url, next, false);
      target = next.href;
      res = await get(url, target, signal, deadline);
    }
    if (res.statusCode >= 400) {
      await res.body.dump();
      throw fetchFailed(
        url,
        `answered HTTP ${res.statusCode}`,
        res.statusCode === 429 || res.statusCode >= 500,
      );
    }
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of res.body as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > cap) {
          res.body.destroy();
          throw new SitemapError(`sitemap ${withoutCredentials(url)}: is over ${cap} bytes`, {
            url,
            problem: 'too_large',
            retryable: false,
          });
        }
        chunks.push(chunk);
      }
    } catch (err) {
      if (err instanceof SitemapError) throw err;
      if (deadline.aborted) throw fetchFailed(url, `not fetched within ${total} ms`, true, err);
      if (outer?.aborted) throw err;
      throw fetchFailed(url, `the body broke off: ${(err as Error).message}`, true, err);
    }
    return Buffer.concat(chunks);
  };
  return { fetch, close: () => agent.close() };
}

export interface OmniScrapeFetchOptions {
  /** The OmniScrape calls (the worker's `AccountClients`, or a client of one key). */
  api: Pick<OmniScrapeApi, 'scrape'>;
  /** The account label whose credits the calls spend. */
  account: string;
  logger: Logger;
  /** The batch the sitemap is read for, named in the cost lines. */
  batchId?: string;
  /** Read timeout of one call, ms. @default the client's */
  timeoutMs?: number;
  /** Told each call's credits (the reader's stats). */
  onCharged?: (credits: number) => void;
}

/**
 * The body of an OmniScrape answer as bytes. A body that is not text (a gzip sitemap) comes back
 * base64-encoded with `metadata.content_encoding: "base64"`, as the local API does; text is UTF-8.
 */
function contentBytes(content: string, metadata: Record<string, unknown> | null | undefined): Buffer {
  return metadata?.content_encoding === 'base64'
    ? Buffer.from(content, 'base64')
    : Buffer.from(content, 'utf8');
}

/** A fetcher that scrapes each file through OmniScrape in `fast` mode, one cost line per call. */
export function omniscrapeFetcher(options: OmniScrapeFetchOptions): SitemapFetcher {
  const { api, account, logger } = options;
  return async (url, signal) => {
    const started = Date.now();
    const line = (fields: Record<string, unknown>) =>
      logger.info(
        {
          event: 'omniscrape_call',
          call: 'scrape',
          purpose: 'sitemap',
          batchId: options.batchId ?? null,
          url: withoutCredentials(url),
          account,
          duration_ms: Date.now() - started,
          ...fields,
        },
        'omniscrape call',
      );
    let body;
    try {
      body = await api.scrape(
        { url, mode: 'fast', output_format: 'html' },
        {
          account,
          ...(signal ? { signal } : {}),
          ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
        },
      );
    } catch (err) {
      const response = err instanceof ScrapeFailedError ? (err.response as ScrapeResponse) : undefined;
      const code = err instanceof OmniScrapeError ? err.code : 'internal';
      line({
        outcome: response ? 'failed' : code,
        success: false,
        charged: response?.billing?.charged ?? 0,
        balance_after: response?.billing?.balance_after ?? null,
        error_code: code,
        status: err instanceof OmniScrapeError ? (err.status ?? null) : null,
      });
      if (signal?.aborted) throw err;
      if (response) {
        const target = response.metadata?.target_status;
        throw fetchFailed(
          url,
          `OmniScrape could not fetch it: ${response.error ?? 'no reason given'}${target ? ` (HTTP ${target})` : ''}`,
          response.error === 'target_timeout' ||
            response.error === 'target_unreachable' ||
            (target ?? 0) >= 500,
          err,
        );
      }
      throw fetchFailed(
        url,
        `the OmniScrape call failed: ${(err as Error).message}`,
        TRANSIENT.has(code),
        err,
      );
    }
    const charged = body.billing?.charged ?? 0;
    options.onCharged?.(charged);
    line({
      outcome: 'success',
      success: true,
      method_used: body.metadata?.method_used ?? null,
      charged,
      balance_after: body.billing?.balance_after ?? null,
      error_code: null,
      status: null,
    });
    const content = body.data?.content;
    if (typeof content !== 'string') throw fetchFailed(url, 'OmniScrape answered without content', false);
    return contentBytes(content, body.metadata);
  };
}

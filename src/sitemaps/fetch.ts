/**
 * How the sitemap reader gets a file's bytes: a direct GET (undici: connect, headers and body timeouts,
 * redirects followed, a size cap while streaming), or through OmniScrape (a `fast` scrape, charged and
 * logged as an `omniscrape_call` cost line like any call). A failure is a `SitemapError` naming the URL.
 */
import { Agent, errors as undiciErrors, interceptors, request, type Dispatcher } from 'undici';
import type { Logger } from '../logging/logger.js';
import { withoutCredentials } from '../logging/url-credentials.js';
import type { OmniScrapeApi } from '../omniscrape/api.js';
import type { ScrapeResponse } from '../omniscrape/types.js';
import { OmniScrapeError, ScrapeFailedError } from '../omniscrape/errors.js';
import { SitemapError } from '../errors.js';
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

/** A direct fetcher with its own connection pool; `close()` ends it. */
export function directFetcher(options: DirectFetchOptions = {}): {
  fetch: SitemapFetcher;
  close(): Promise<void>;
} {
  const timeout = options.timeoutMs ?? 30_000;
  const cap = options.maxBytes ?? MAX_SITEMAP_BYTES;
  const agent = new Agent({ connect: { timeout }, headersTimeout: timeout, bodyTimeout: timeout });
  const dispatcher: Dispatcher = agent.compose(
    interceptors.redirect({ maxRedirections: options.maxRedirects ?? 5 }),
  );
  const fetch: SitemapFetcher = async (url, signal) => {
    let res;
    try {
      res = await request(url, {
        dispatcher,
        method: 'GET',
        headers: {
          'user-agent': options.userAgent ?? 'scrapeflow-sitemap/0.1',
          accept: 'application/xml, text/xml, application/gzip, text/plain;q=0.9, */*;q=0.5',
        },
        ...(signal ? { signal } : {}),
      });
    } catch (err) {
      if (signal?.aborted) throw err;
      const timedOut =
        err instanceof undiciErrors.ConnectTimeoutError || err instanceof undiciErrors.HeadersTimeoutError;
      throw fetchFailed(
        url,
        timedOut ? `no answer within ${timeout} ms` : `cannot fetch: ${(err as Error).message}`,
        true,
        err,
      );
    }
    if (res.statusCode >= 400) {
      await res.body.dump();
      throw fetchFailed(
        url,
        `answered HTTP ${res.statusCode}`,
        res.statusCode === 429 || res.statusCode >= 500,
      );
    }
    if (res.statusCode >= 300) {
      await res.body.dump();
      throw fetchFailed(
        url,
        `answered HTTP ${res.statusCode} (more than ${options.maxRedirects ?? 5} redirects?)`,
        false,
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
      if (err instanceof SitemapError || signal?.aborted) throw err;
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

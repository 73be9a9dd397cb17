/**
 * The typed OmniScrape API client: one undici pool per client, requests validated before they leave the
 * process, responses validated against `types.ts`, and every failure surfaced as exactly one class of
 * the taxonomy in `errors.ts`.
 */
import { Pool } from 'undici';
import { z } from 'zod';
import { ConfigError, loadConfig } from '../config/env.js';
import {
  AbortedError,
  BadRequestError,
  ResponseTooLargeError,
  ScrapeFailedError,
  redactSecrets,
  registerSecret,
} from './errors.js';
import { SlotQueue } from './slots.js';
import { parseBody, readBounded, safeCause, statusError, transportError } from './transport.js';
import {
  asyncJobResponseSchema,
  asyncSubmitResponseSchema,
  scrapeRequestSchema,
  scrapeResponseSchema,
} from './types.js';
import type { AsyncJobResponse, AsyncSubmitResponse, ScrapeRequestInput, ScrapeResponse } from './types.js';

export interface OmniScrapeClientOptions {
  /** API base URL including its path prefix, e.g. `https://api.omniscrape.io/v1`. */
  baseUrl: string;
  /** The API key, sent as the `X-API-Key` header only and registered for redaction. */
  apiKey: string;
  /**
   * Size of the undici connection pool, which also caps requests in flight. This is not the plan's
   * concurrency limit: bound that with a semaphore at or below this value. @default 20
   */
  connections?: number;
  /** How long an idle keep-alive connection is kept, in ms; also caps server keep-alive hints. @default 30000 */
  keepAliveTimeoutMs?: number;
  /** TCP (and TLS) connect timeout, in ms. @default 10000 */
  connectTimeoutMs?: number;
  /**
   * Read timeout, in ms: the wait for response headers, and the longest pause between body chunks.
   * Must cover a `js_rendering` scrape. @default 120000
   */
  readTimeoutMs?: number;
  /**
   * Longest wait for a free connection when all `connections` are busy, in ms; past it the call fails
   * with `ClientTimeoutError` phase `'pool'`. @default 5000
   */
  poolTimeoutMs?: number;
  /** Negotiate HTTP/2 over TLS when the server offers it (undici `allowH2`). @default false */
  http2?: boolean;
  /**
   * Largest response body accepted, in bytes. A larger body is not read further: the connection is
   * closed and the call fails with `ResponseTooLargeError`. @default 10485760 (10 MiB)
   */
  maxResponseBytes?: number;
  /** The `User-Agent` header. @default 'scrapeflow/0.1.0' */
  userAgent?: string;
}

/** Per-call options. */
export interface CallOptions {
  /** Aborting it fails the call with `AbortedError` and releases its connection. */
  signal?: AbortSignal;
  /** Read timeout for this call only, in ms (see `readTimeoutMs`). */
  timeoutMs?: number;
}

export interface SubmitAsyncOptions extends CallOptions {
  /**
   * Sent as `Idempotency-Key`: a retried submit does not queue (and bill) a second job, and a retried
   * scrape gets the already delivered answer back.
   */
  idempotencyKey?: string;
}

const positiveInt = z.number().int().positive();
const optionsSchema = z.object({
  baseUrl: z.url({ protocol: /^https?$/, error: 'must be an absolute http(s) URL' }),
  apiKey: z.string().regex(/^[\x21-\x7e]+$/, 'must be non-empty printable ASCII without spaces'),
  connections: positiveInt.default(20),
  keepAliveTimeoutMs: positiveInt.default(30_000),
  connectTimeoutMs: positiveInt.default(10_000),
  readTimeoutMs: positiveInt.default(120_000),
  poolTimeoutMs: positiveInt.default(5_000),
  http2: z.boolean().default(false),
  maxResponseBytes: positiveInt.default(10 * 1024 * 1024),
  userAgent: z.string().min(1).default('scrapeflow/0.1.0'),
});
type ResolvedOptions = z.output<typeof optionsSchema>;

/** Error bodies (4xx/5xx) are only read this far: enough for an excerpt and the API's `field`. */
const ERROR_BODY_BYTES = 64 * 1024;
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

/** The `Idempotency-Key` header, after checking the key. */
function idempotencyHeaders(key: string | undefined): Record<string, string> {
  if (key === undefined) return {};
  if (!IDEMPOTENCY_KEY.test(key)) {
    throw new BadRequestError('idempotencyKey must be 1-255 printable ASCII characters without spaces', {
      field: 'idempotencyKey',
    });
  }
  return { 'idempotency-key': key };
}

export class OmniScrapeClient {
  readonly #options: ResolvedOptions;
  readonly #pool: Pool;
  readonly #slots: SlotQueue;
  /** The base URL's path without its trailing slash, e.g. `/v1`. */
  readonly #prefix: string;
  #closing: Promise<void> | undefined;

  constructor(options: OmniScrapeClientOptions) {
    registerSecret(options.apiKey);
    const parsed = optionsSchema.safeParse(options);
    if (!parsed.success) {
      const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
      throw new TypeError(`invalid OmniScrapeClientOptions: ${problems}`);
    }
    const o = (this.#options = parsed.data);
    const base = new URL(o.baseUrl);
    this.#prefix = base.pathname.replace(/\/+$/, '');
    this.#slots = new SlotQueue(o.connections);
    this.#pool = new Pool(base.origin, {
      connections: o.connections,
      keepAliveTimeout: o.keepAliveTimeoutMs,
      keepAliveMaxTimeout: o.keepAliveTimeoutMs,
      connect: { timeout: o.connectTimeoutMs },
      headersTimeout: o.readTimeoutMs,
      bodyTimeout: o.readTimeoutMs,
      allowH2: o.http2,
    });
  }

  /**
   * A client configured from `OMNISCRAPE_API_URL` (default `https://api.omniscrape.io/v1`) and
   * `OMNISCRAPE_KEY` (required), read through `loadConfig`; `overrides` win over both.
   */
  static fromEnv(
    env: NodeJS.ProcessEnv = process.env,
    overrides: Partial<OmniScrapeClientOptions> = {},
  ): OmniScrapeClient {
    const config = loadConfig(env);
    const apiKey = overrides.apiKey ?? config.OMNISCRAPE_KEY;
    if (!apiKey) throw new ConfigError('OMNISCRAPE_KEY is not set: the OmniScrape client needs an API key');
    return new OmniScrapeClient({ baseUrl: config.OMNISCRAPE_API_URL, ...overrides, apiKey });
  }

  /**
   * `POST /scrape`. An answer with `success: false` throws `ScrapeFailedError` carrying the whole answer.
   * With an `idempotencyKey`, a retry of a call whose answer was lost (a worker killed mid-call) gets the
   * delivered answer again instead of a second charge, where the API honours the key.
   */
  async scrape(request: ScrapeRequestInput, options?: SubmitAsyncOptions): Promise<ScrapeResponse> {
    const res = await this.#call(
      { method: 'POST', path: '/scrape', request, schema: scrapeResponseSchema },
      options,
    );
    if (!res.data.success) {
      throw new ScrapeFailedError(`scrape of ${request.url} failed: ${res.data.error ?? 'no reason given'}`, {
        status: res.status,
        bodyExcerpt: res.text,
        response: redactDeep(res.data),
      });
    }
    return res.data;
  }

  /** `POST /scrape/async`: queues the scrape and returns its job id at once. */
  async submitAsync(request: ScrapeRequestInput, options?: SubmitAsyncOptions): Promise<AsyncSubmitResponse> {
    const res = await this.#call(
      { method: 'POST', path: '/scrape/async', request, schema: asyncSubmitResponseSchema },
      options,
    );
    return res.data;
  }

  /** `GET /scrape/async/{jobId}`. A `failed` job is returned like any other status, not thrown. */
  async getAsyncJob(jobId: string, options?: CallOptions): Promise<AsyncJobResponse> {
    if (typeof jobId !== 'string' || jobId === '') {
      throw new BadRequestError('jobId must be a non-empty string', { field: 'jobId' });
    }
    const path = `/scrape/async/${encodeURIComponent(jobId)}`;
    return (await this.#call({ method: 'GET', path, schema: asyncJobResponseSchema }, options)).data;
  }

  /** Closes the pool once the requests in flight have finished. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#pool.close();
    return this.#closing;
  }

  /**
   * One request: `request` (validated first) is the JSON body, `options.idempotencyKey` goes into the
   * `Idempotency-Key` header, `schema` checks a 2xx answer.
   */
  async #call<T>(
    {
      method,
      path,
      request,
      schema,
    }: { method: 'GET' | 'POST'; path: string; request?: ScrapeRequestInput; schema: z.ZodType<T> },
    options: SubmitAsyncOptions | undefined,
  ): Promise<{ status: number; text: string; data: T }> {
    const body = request === undefined ? undefined : validateRequest(request);
    const extraHeaders = idempotencyHeaders(options?.idempotencyKey);
    const o = this.#options;
    const fullPath = this.#prefix + path;
    const what = `${method} ${fullPath}`;
    const signal = options?.signal;
    const timeout = options?.timeoutMs ?? o.readTimeoutMs;
    if (!Number.isFinite(timeout) || timeout <= 0) {
      throw new BadRequestError(`timeoutMs must be a positive number of ms (got ${timeout})`, {
        field: 'timeoutMs',
      });
    }
    let status: number | undefined;
    let release: (() => void) | undefined;
    try {
      release = await this.#slots.acquire(o.poolTimeoutMs, signal, what);
      const res = await this.#pool.request({
        method,
        path: fullPath,
        headers: {
          accept: 'application/json',
          'user-agent': o.userAgent,
          'x-api-key': o.apiKey,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...extraHeaders,
        },
        body: body ?? null,
        signal: signal ?? null,
        headersTimeout: timeout,
        bodyTimeout: timeout,
      });
      status = res.statusCode;
      const ok = status >= 200 && status < 300;
      const limit = ok ? o.maxResponseBytes : Math.min(ERROR_BODY_BYTES, o.maxResponseBytes);
      const { text, overLimit } = await readBounded(res.body, limit, res.headers);
      if (!ok) throw statusError(status, text, res.headers, what);
      if (overLimit) {
        throw new ResponseTooLargeError(`${what} answered with a body over ${limit} bytes`, {
          status,
          bodyExcerpt: text,
        });
      }
      return { status, text, data: parseBody(schema, text, status, what) };
    } catch (err) {
      if (signal?.aborted) {
        throw new AbortedError(`${what} was aborted`, { status, cause: safeCause(signal.reason) });
      }
      throw transportError(err, what, status);
    } finally {
      release?.();
    }
  }
}

/** Validates and applies defaults; a bad request never leaves the process. */
function validateRequest(request: ScrapeRequestInput): string {
  const parsed = scrapeRequestSchema.safeParse(request);
  if (parsed.success) return JSON.stringify(parsed.data);
  const issue = parsed.error.issues[0];
  const path = issue?.path.map(String) ?? [];
  if (issue?.code === 'unrecognized_keys' && issue.keys[0] !== undefined) path.push(issue.keys[0]);
  const field = path.join('.');
  throw new BadRequestError(`invalid scrape request: ${field || 'request'}: ${issue?.message ?? 'invalid'}`, {
    field: field || undefined,
    cause: parsed.error,
  });
}

/** A JSON copy with every registered secret removed, for answers kept inside errors. */
function redactDeep<T>(value: T): T {
  return JSON.parse(redactSecrets(JSON.stringify(value))) as T;
}

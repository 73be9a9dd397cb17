/**
 * The HTTP edge of the OmniScrape client: bounded body reading and the mapping of every status and every
 * undici failure onto the one error taxonomy in `errors.ts`.
 */
import type { Dispatcher } from 'undici';
import type { z } from 'zod';
import { redactSecrets } from '../logging/secrets.js';
import {
  AuthError,
  BadRequestError,
  BalanceExhaustedError,
  ClientTimeoutError,
  ConnectionError,
  MalformedResponseError,
  NotFoundError,
  OmniScrapeError,
  RateLimitedError,
  UnexpectedStatusError,
  UpstreamError,
} from './errors.js';
import { apiErrorBodySchema } from './types.js';

type ResponseBody = Dispatcher.ResponseData['body'];
type ResponseHeaders = Dispatcher.ResponseData['headers'];

export interface BoundedBody {
  /** The body decoded as UTF-8, at most `limit` bytes of it. */
  text: string;
  /** True when the body was longer than `limit`; it was destroyed, not read to the end. */
  overLimit: boolean;
}

const noop = (): void => {};

/**
 * Reads a response body while counting bytes. Past `limit` it stops reading and destroys the body (the
 * connection is closed rather than drained), so no more than `limit` bytes are ever held in memory.
 * A `content-length` already over the limit destroys the body without reading any of it.
 */
export async function readBounded(
  body: ResponseBody,
  limit: number,
  headers: ResponseHeaders,
): Promise<BoundedBody> {
  const chunks: Buffer[] = [];
  let size = 0;
  let overLimit = Number(headerValue(headers, 'content-length') ?? 0) > limit;
  if (!overLimit) {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      if (size + chunk.length > limit) {
        chunks.push(chunk.subarray(0, limit - size));
        overLimit = true;
        break;
      }
      chunks.push(chunk);
      size += chunk.length;
    }
  }
  // Leaving the loop early already destroys the body; this covers the content-length shortcut too.
  if (overLimit) body.on('error', noop).destroy();
  return { text: Buffer.concat(chunks).toString('utf8'), overLimit };
}

export function headerValue(headers: ResponseHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Maps a non-2xx answer onto the taxonomy. `what` names the call, e.g. `POST /v1/scrape`. */
export function statusError(
  status: number,
  text: string,
  headers: ResponseHeaders,
  what: string,
): OmniScrapeError {
  const body = parseErrorBody(text);
  const detail = body?.message ?? body?.error;
  const message = `${what} answered ${status}${detail ? `: ${detail.slice(0, 200)}` : ''}`;
  const options = { status, bodyExcerpt: text };
  if (status === 400) {
    const field = body?.field === undefined ? undefined : redactSecrets(body.field);
    return new BadRequestError(message, field === undefined ? options : { ...options, field });
  }
  if (status === 401) return new AuthError(message, options);
  if (status === 402) return new BalanceExhaustedError(message, options);
  if (status === 404) return new NotFoundError(message, options);
  if (status === 429) {
    const retryAfterMs = parseRetryAfter(headers['retry-after']);
    return new RateLimitedError(message, retryAfterMs === undefined ? options : { ...options, retryAfterMs });
  }
  if (status >= 500 && status <= 599) return new UpstreamError(message, options);
  return new UnexpectedStatusError(message, options);
}

function parseErrorBody(text: string): z.infer<typeof apiErrorBodySchema> | undefined {
  try {
    const parsed = apiErrorBodySchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** Parses a 2xx body as JSON and validates it against the contract's schema. */
export function parseBody<T>(schema: z.ZodType<T>, text: string, status: number, what: string): T {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new MalformedResponseError(`${what} answered ${status} with a body that is not JSON`, {
      status,
      bodyExcerpt: text,
      cause: safeCause(err),
    });
  }
  const parsed = schema.safeParse(json);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const where = issue && issue.path.length > 0 ? issue.path.join('.') : 'body';
  throw new MalformedResponseError(
    `${what} answered ${status} with a body that breaks the contract: ${where}: ${issue?.message ?? 'invalid'}`,
    { status, bodyExcerpt: text, cause: parsed.error },
  );
}

/** Error codes that mean nothing answers at the API's address. */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

/**
 * Maps anything thrown while talking to the API onto the taxonomy: undici timeouts by phase, every other
 * transport failure (refused, reset, DNS, TLS, closed client) as `ConnectionError`.
 */
export function transportError(err: unknown, what: string, status: number | undefined): OmniScrapeError {
  if (err instanceof OmniScrapeError) return err;
  const code = typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : undefined;
  const reason = err instanceof Error ? err.message : String(err);
  const options = { status, cause: safeCause(err) };
  switch (code) {
    case 'UND_ERR_CONNECT_TIMEOUT':
      return new ClientTimeoutError(`${what}: connect timed out`, { ...options, phase: 'connect' });
    case 'UND_ERR_HEADERS_TIMEOUT':
      return new ClientTimeoutError(`${what}: no response headers in time`, { ...options, phase: 'headers' });
    case 'UND_ERR_BODY_TIMEOUT':
      return new ClientTimeoutError(`${what}: response body stalled`, { ...options, phase: 'body' });
    case 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH':
      return new MalformedResponseError(`${what}: body length differs from content-length`, options);
    case 'UND_ERR_CLOSED':
    case 'UND_ERR_DESTROYED':
      return new ConnectionError(`${what}: the client is closed`, options);
    default:
      return new ConnectionError(`${what} failed: ${code ? `${code}: ` : ''}${reason}`, {
        ...options,
        unreachable: code !== undefined && UNREACHABLE.has(code),
      });
  }
}

/**
 * The original error when it holds no registered secret; otherwise a copy with message and stack
 * redacted, so a logger or Temporal walking the `cause` chain cannot leak the key either.
 */
export function safeCause(err: unknown): unknown {
  if (typeof err === 'string') return redactSecrets(err);
  if (!(err instanceof Error)) return err;
  const clean = (s: string | undefined): boolean => s === undefined || redactSecrets(s) === s;
  if (clean(err.message) && clean(err.stack)) return err;
  const copy = new Error(redactSecrets(err.message));
  copy.name = err.name;
  copy.stack = err.stack === undefined ? undefined : redactSecrets(err.stack);
  if ('code' in err) Object.assign(copy, { code: err.code });
  return copy;
}

/** Parses a Retry-After header (delta-seconds or an HTTP date) into milliseconds. */
export function parseRetryAfter(
  value: string | string[] | undefined,
  now: number = Date.now(),
): number | undefined {
  const raw = Array.isArray(value) ? value[0] : value;
  if (raw === undefined || raw.trim() === '') return undefined;
  const trimmed = raw.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

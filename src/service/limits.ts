/**
 * What one request to the service may take: the size of an uploaded input file (bytes, and URLs), the
 * time to receive a request, and how long an idle connection stays open. An upload over a cap is
 * refused while it streams (413 or 408 naming `body`); the store's `putInput` is all-or-nothing, so
 * nothing of it stays behind.
 */
import type { Config } from '../config/env.js';
import { UploadTimeoutError, UploadTooLargeError } from '../errors.js';

export interface ServiceLimits {
  /**
   * Largest uploaded input file, bytes: room for 1,000,000 lines of 268 bytes on average (a URL with a
   * few tags in JSONL). @default 268435456 (256 MiB)
   */
  uploadMaxBytes: number;
  /** Most URLs one uploaded file may hold. @default 1000000 */
  uploadMaxLines: number;
  /**
   * Longest time to receive one request, an uploaded file included, ms (Fastify's `requestTimeout`, and
   * the upload's own deadline): 256 MiB at 300 KB/s. @default 900000 (15 min)
   */
  requestTimeoutMs: number;
  /** A connection with no traffic is closed after this long, ms (Fastify's `connectionTimeout`). @default 300000 */
  connectionTimeoutMs: number;
  /** How long an idle keep-alive connection is kept between requests, ms. @default 72000 (Fastify's) */
  keepAliveTimeoutMs: number;
}

export const DEFAULT_LIMITS: ServiceLimits = {
  uploadMaxBytes: 256 * 1024 * 1024,
  uploadMaxLines: 1_000_000,
  requestTimeoutMs: 900_000,
  connectionTimeoutMs: 300_000,
  keepAliveTimeoutMs: 72_000,
};

/** The limits the environment sets (SCRAPEFLOW_UPLOAD_MAX_BYTES, …); the others keep their defaults. */
export function limitsFromConfig(config: Partial<Config>): Partial<ServiceLimits> {
  const set = <K extends keyof ServiceLimits>(key: K, value: number | undefined) =>
    value === undefined ? {} : { [key]: value };
  return {
    ...set('uploadMaxBytes', config.SCRAPEFLOW_UPLOAD_MAX_BYTES),
    ...set('uploadMaxLines', config.SCRAPEFLOW_UPLOAD_MAX_LINES),
    ...set('requestTimeoutMs', config.SCRAPEFLOW_REQUEST_TIMEOUT_MS),
    ...set('connectionTimeoutMs', config.SCRAPEFLOW_CONNECTION_TIMEOUT_MS),
  };
}

/**
 * The uploaded bytes, refused past `uploadMaxBytes` or once the request has taken `requestTimeoutMs`
 * since `startedAt` (a client that stalls mid-upload included: the wait for each chunk is bounded).
 */
export async function* boundedUpload(
  source: AsyncIterable<Uint8Array | string>,
  limits: Pick<ServiceLimits, 'uploadMaxBytes' | 'requestTimeoutMs'>,
  startedAt = Date.now(),
): AsyncIterable<Uint8Array | string> {
  const iterator = source[Symbol.asyncIterator]();
  let bytes = 0;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new UploadTimeoutError(
            `body: the upload did not arrive within ${limits.requestTimeoutMs / 1000} s (SCRAPEFLOW_REQUEST_TIMEOUT_MS)`,
            { field: 'body' },
          ),
        ),
      Math.max(0, startedAt + limits.requestTimeoutMs - Date.now()),
    );
  });
  deadline.catch(() => {});
  try {
    for (;;) {
      const next = await Promise.race([iterator.next(), deadline]);
      if (next.done) return;
      bytes += typeof next.value === 'string' ? Buffer.byteLength(next.value) : next.value.byteLength;
      if (bytes > limits.uploadMaxBytes)
        throw new UploadTooLargeError(
          `body: the upload is over ${limits.uploadMaxBytes} bytes (SCRAPEFLOW_UPLOAD_MAX_BYTES); split the input into several batches`,
          { field: 'body', limit: limits.uploadMaxBytes, setting: 'SCRAPEFLOW_UPLOAD_MAX_BYTES' },
        );
      yield next.value;
    }
  } finally {
    // Not `iterator.return()`: it would wait for the pending read of a stalled client, and destroy the
    // request before the answer is sent. The answer closes the connection instead (routes.ts).
    clearTimeout(timer);
  }
}

/** The parsed items of an upload, refused past `uploadMaxLines` URLs. */
export async function* boundedLines<T>(items: AsyncIterable<T>, maxLines: number): AsyncIterable<T> {
  let count = 0;
  for await (const item of items) {
    count += 1;
    if (count > maxLines)
      throw new UploadTooLargeError(
        `body: the upload holds more than ${maxLines} URLs (SCRAPEFLOW_UPLOAD_MAX_LINES); split the input into several batches`,
        { field: 'body', limit: maxLines, setting: 'SCRAPEFLOW_UPLOAD_MAX_LINES' },
      );
    yield item;
  }
}

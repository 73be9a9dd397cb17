/**
 * The baseline the batch benchmarks compare against: the guide's Pattern A in TypeScript — one undici
 * pool for the process, a semaphore of C (C lanes), every URL posted to the local API. With `retries`,
 * a failed call (any non-200, or `success: false`) is retried at once, up to that many times (the naive
 * retry loop of a script that knows no error matrix).
 */
import { Pool } from 'undici';

export interface BareScriptOptions {
  /** The local API's base URL (`.../v1`). */
  apiUrl: string;
  apiKey: string;
  urls: readonly string[];
  /** Lanes: the semaphore's value (the plan's concurrency). */
  limit: number;
  /** Immediate retries of a failed call. @default 0 */
  retries?: number;
}

export interface BareScriptResult {
  /** URLs that ended with a successful scrape. */
  ok: number;
  /** HTTP calls made, retries included. */
  calls: number;
  seconds: number;
}

export async function bareScript({
  apiUrl,
  apiKey,
  urls,
  limit,
  retries = 0,
}: BareScriptOptions): Promise<BareScriptResult> {
  const pool = new Pool(new URL(apiUrl).origin, { connections: Math.max(limit, 20) });
  const path = `${new URL(apiUrl).pathname}/scrape`;
  let next = 0;
  let ok = 0;
  let calls = 0;
  const once = async (url: string): Promise<boolean> => {
    calls += 1;
    const res = await pool.request({
      method: 'POST',
      path,
      headers: { 'content-type': 'application/json', 'x-api-key': apiKey },
      body: JSON.stringify({ url, mode: 'fast', output_format: 'html' }),
    });
    const body = (await res.body.json()) as { success?: boolean };
    return res.statusCode === 200 && body.success === true;
  };
  const started = performance.now();
  const lane = async () => {
    while (next < urls.length) {
      const url = urls[next++]!;
      for (let attempt = 0; attempt <= retries; attempt++) {
        if (await once(url)) {
          ok += 1;
          break;
        }
      }
    }
  };
  await Promise.all(Array.from({ length: limit }, lane));
  const seconds = (performance.now() - started) / 1000;
  await pool.close();
  return { ok, calls, seconds };
}

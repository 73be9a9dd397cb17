/** Shared helpers of the local API tests: a quiet server, raw HTTP calls, admin calls. */
import { setImmediate as nextTurn } from 'node:timers/promises';
import { pino } from 'pino';
import { Agent, request } from 'undici';
import { startLocalApi, type LocalApiHandle, type LocalApiOptions } from '../../devkit/local-api/index.js';
import type { Endpoint } from '../../devkit/local-api/counters.js';

export const ADMIN = 'admin-token-for-tests';
export const quiet = pino({ level: 'silent' });

export function startApi(
  options: Partial<LocalApiOptions> & Pick<LocalApiOptions, 'accounts'>,
): Promise<LocalApiHandle> {
  return startLocalApi({ adminToken: ADMIN, logger: quiet, ...options });
}

export interface Answer<T = Record<string, unknown>> {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: T;
}

/** One HTTP client per test file; close it in `after`. */
export class Http {
  readonly agent = new Agent({ connections: 64 });

  async call<T = Record<string, unknown>>(
    url: string,
    options: {
      method?: 'GET' | 'POST' | 'PUT' | 'DELETE';
      key?: string;
      token?: string;
      json?: unknown;
      raw?: string;
      headers?: Record<string, string>;
      signal?: AbortSignal;
    } = {},
  ): Promise<Answer<T>> {
    const headers: Record<string, string> = { ...options.headers };
    if (options.key !== undefined) headers['x-api-key'] = options.key;
    if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
    let body: string | undefined = options.raw;
    if (options.json !== undefined) body = JSON.stringify(options.json);
    if (body !== undefined) headers['content-type'] ??= 'application/json';
    const res = await request(url, {
      dispatcher: this.agent,
      method: options.method ?? (body === undefined ? 'GET' : 'POST'),
      headers,
      body,
      signal: options.signal,
    });
    const text = await res.body.text();
    return { status: res.statusCode, headers: res.headers, body: (text ? JSON.parse(text) : {}) as T };
  }

  scrape(api: LocalApiHandle, key: string, json: unknown, signal?: AbortSignal): Promise<Answer> {
    return this.call(`${api.url}/scrape`, { key, json, signal });
  }

  admin<T = Record<string, unknown>>(
    api: LocalApiHandle,
    method: 'GET' | 'POST' | 'PUT' | 'DELETE',
    path: string,
    json?: unknown,
  ): Promise<Answer<T>> {
    return this.call<T>(`${api.origin}/admin${path}`, { method, token: ADMIN, json });
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}

/** Resolves once `count` requests of `endpoint` have been counted with `outcome`, then lets the handlers finish their turn. */
export async function outcomes(
  api: LocalApiHandle,
  endpoint: Endpoint,
  outcome: string,
  count: number,
): Promise<void> {
  const events = api.state.counters.events;
  let seen = 0;
  const done = new Promise<void>((resolve) => {
    const listener = (e: Endpoint, o: string): void => {
      if (e !== endpoint || o !== outcome || ++seen < count) return;
      events.off('outcome', listener);
      resolve();
    };
    events.on('outcome', listener);
  });
  await done;
  await nextTurn();
}

/** Resolves once fault rules have fired `count` times (counting from this call). */
export function firings(api: LocalApiHandle, count: number): Promise<void> {
  const events = api.state.faults.events;
  let seen = 0;
  return new Promise<void>((resolve) => {
    const listener = (): void => {
      if (++seen < count) return;
      events.off('fired', listener);
      resolve();
    };
    events.on('fired', listener);
  });
}

/** A product page URL of the demo site. */
export const page = (origin: string, n: number): string => `${origin}/p/${n}`;

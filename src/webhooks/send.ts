/**
 * One signed POST of an event to an endpoint, per Standard Webhooks: `webhook-id` (the event id, the
 * same on every try), `webhook-timestamp` (this try, seconds) and `webhook-signature` (`v1,<base64>` of
 * HMAC-SHA256 over `id.timestamp.body`, one per live secret, space-separated while a rotated-out secret
 * is in its grace period), by the `standardwebhooks` library receivers verify with. 15 s for the whole
 * exchange, redirects not followed (a 3xx is a failure: following one could lead anywhere), at most
 * 64 KiB of the answer read, and the connection made through the SSRF guard's lookup.
 */
import { isIP } from 'node:net';
import { Agent, request } from 'undici';
import { Webhook } from 'standardwebhooks';
import { isBlockedAddress, guardedLookup, type AllowList } from './ssrf.js';
import type { EndpointSecret } from './types.js';

/** Longest exchange with a receiver, ms. */
export const DELIVERY_TIMEOUT_MS = 15_000;
/** Most bytes of an answer read (kept for `webhooks test`; a delivery only needs the status). */
export const MAX_ANSWER_BYTES = 64 * 1024;

export interface SendResult {
  /** The HTTP status, when the receiver answered. */
  status?: number;
  /** Why there was no answer (named, never the URL: its path may be a secret). */
  error?: string;
  latencyMs: number;
  /** `Retry-After` of the answer. */
  retryAfter?: string;
  /** The start of the answer's body, at most MAX_ANSWER_BYTES. */
  answer?: string;
}

/** The secrets that sign now: the current one and those whose grace period has not ended. */
export function liveSecrets(secrets: readonly EndpointSecret[], now: Date): string[] {
  return secrets.filter((s) => !s.expiresAt || Date.parse(s.expiresAt) > now.getTime()).map((s) => s.secret);
}

/** The Standard Webhooks headers of one try. */
export function signedHeaders(
  id: string,
  body: string,
  secrets: readonly string[],
  now: Date,
): Record<string, string> {
  return {
    'webhook-id': id,
    'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
    'webhook-signature': secrets.map((s) => new Webhook(s).sign(id, now, body)).join(' '),
  };
}

/** The connection pool of deliveries: every socket it opens resolves through the SSRF guard. */
export function deliveryAgent(allow: AllowList): Agent {
  return new Agent({
    connect: { lookup: guardedLookup(allow), timeout: DELIVERY_TIMEOUT_MS },
    headersTimeout: DELIVERY_TIMEOUT_MS,
    bodyTimeout: DELIVERY_TIMEOUT_MS,
    keepAliveTimeout: 4_000,
  });
}

function describe(err: unknown): string {
  const e = err as NodeJS.ErrnoException & { cause?: unknown };
  if (e?.name === 'RefusedAddressError') return e.message;
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError')
    return `no answer within ${DELIVERY_TIMEOUT_MS / 1000} s`;
  const cause = e?.cause as (NodeJS.ErrnoException & { name?: string }) | undefined;
  if (cause?.name === 'RefusedAddressError') return cause.message;
  return e?.code ?? cause?.code ?? e?.name ?? 'connection failed';
}

/**
 * POSTs `body` to `url`, signed with `secrets`. Never throws: a failure is the result's `error`.
 * An IP literal host is checked here (a socket does not look one up).
 */
export async function sendSigned(
  agent: Agent,
  allow: AllowList,
  target: { url: string; id: string; body: string; secrets: readonly string[] },
  now = new Date(),
): Promise<SendResult> {
  const started = performance.now();
  const latency = () => Math.round(performance.now() - started);
  const url = new URL(target.url);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (isIP(host) && !allow.host(host) && !allow.address(host) && isBlockedAddress(host))
    return {
      error: `${host} is a loopback, private, link-local, CGNAT or metadata address: refused`,
      latencyMs: 0,
    };
  try {
    const res = await request(url, {
      method: 'POST',
      dispatcher: agent,
      headers: {
        'content-type': 'application/json',
        'user-agent': 'scrapeflow-webhooks',
        ...signedHeaders(target.id, target.body, target.secrets, now),
      },
      body: target.body,
      signal: AbortSignal.timeout(DELIVERY_TIMEOUT_MS),
    });
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of res.body as AsyncIterable<Buffer>) {
        const room = MAX_ANSWER_BYTES - size;
        chunks.push(chunk.subarray(0, room));
        size += Math.min(chunk.length, room);
        if (size >= MAX_ANSWER_BYTES) break; // the rest is never read: the stream is destroyed below
      }
    } finally {
      res.body.destroy();
    }
    const retryAfter = res.headers['retry-after'];
    return {
      status: res.statusCode,
      latencyMs: latency(),
      ...(typeof retryAfter === 'string' ? { retryAfter } : {}),
      answer: Buffer.concat(chunks).toString('utf8'),
    };
  } catch (err) {
    return { error: describe(err), latencyMs: latency() };
  }
}

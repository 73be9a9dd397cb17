/**
 * Alert delivery to a webhook: fire-and-forget for the caller, a bounded in-memory queue, one POST at a
 * time, each retried with exponential backoff. Nothing here ever blocks or fails a scrape: a full queue
 * drops the new alert (counted and logged), a webhook that keeps failing is given up on after
 * `maxAttempts`. Timers are unref'd so a pending retry never keeps a process alive.
 */
import { registerSecret } from '../logging/secrets.js';
import type { Logger } from '../logging/logger.js';

export type AlertKind = 'low_balance' | 'paused';

/** What is POSTed: `kind` and `time` plus the caller's fields (account, balance, threshold, batchId, ...). */
export type AlertPayload = Record<string, unknown>;

export type DeliveryResult = 'sent' | 'failed' | 'dropped';

export interface AlertSenderOptions {
  /** The webhook; without it alerts are only logged. */
  url?: string;
  logger: Logger;
  /** Alerts waiting to be sent, at most; beyond it new alerts are dropped. @default 100 */
  queueLimit?: number;
  /** Tries per alert, the first included. @default 5 */
  maxAttempts?: number;
  /** Delay before the first retry, ms; doubles per retry. @default 1000 */
  baseDelayMs?: number;
  /** Longest delay between retries, ms. @default 30000 */
  maxDelayMs?: number;
  /** Timeout of one POST, ms. @default 5000 */
  timeoutMs?: number;
  /** Told the fate of each alert (metrics). */
  onResult?: (kind: AlertKind, result: DeliveryResult) => void;
}

export interface AlertSender {
  /** Queues an alert and returns at once. */
  send(kind: AlertKind, payload: AlertPayload): void;
  /** Waits (at most `timeoutMs`) for queued alerts to be delivered or given up on, then stops. */
  close(timeoutMs?: number): Promise<void>;
}

interface Queued {
  kind: AlertKind;
  body: string;
}

class RetryableDeliveryError extends Error {
  override readonly name = 'RetryableDeliveryError';
}

export function createAlertSender(options: AlertSenderOptions): AlertSender {
  const { url, logger } = options;
  const queueLimit = options.queueLimit ?? 100;
  const maxAttempts = options.maxAttempts ?? 5;
  const baseDelayMs = options.baseDelayMs ?? 1000;
  const maxDelayMs = options.maxDelayMs ?? 30_000;
  const timeoutMs = options.timeoutMs ?? 5000;
  const log = logger.child({ component: 'alerts' });
  registerSecret(url); // webhook URLs often carry a token in their path
  const queue: Queued[] = [];
  let pumping: Promise<void> | undefined;
  let closed = false;
  const stop = new AbortController();

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      timer.unref();
      stop.signal.addEventListener('abort', () => {
        clearTimeout(timer);
        resolve();
      });
    });

  async function post(body: string): Promise<void> {
    if (!url) return;
    let res: Response;
    try {
      res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        signal: AbortSignal.any([AbortSignal.timeout(timeoutMs), stop.signal]),
      });
    } catch (err) {
      throw new RetryableDeliveryError(
        `webhook unreachable: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
    await res.body?.cancel();
    if (res.ok) return;
    const message = `webhook answered ${res.status}`;
    if (res.status === 429 || res.status >= 500 || res.status === 408)
      throw new RetryableDeliveryError(message);
    throw new Error(message);
  }

  async function deliver(item: Queued): Promise<DeliveryResult> {
    for (let attempt = 1; ; attempt++) {
      try {
        await post(item.body);
        return 'sent';
      } catch (err) {
        const retryable = err instanceof RetryableDeliveryError;
        if (!retryable || attempt >= maxAttempts || stop.signal.aborted) {
          log.error({ err, kind: item.kind, attempt }, 'alert webhook failed; alert given up');
          return 'failed';
        }
        log.warn({ err, kind: item.kind, attempt }, 'alert webhook failed; retrying');
        await sleep(Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1)));
      }
    }
  }

  async function pump(): Promise<void> {
    for (let item = queue.shift(); item; item = queue.shift()) {
      const result = await deliver(item);
      options.onResult?.(item.kind, result);
    }
    pumping = undefined;
  }

  return {
    send(kind, payload) {
      const body = JSON.stringify({ kind, time: new Date().toISOString(), ...payload });
      log.info({ alert: kind, ...payload }, `alert: ${kind}`);
      if (!url) return;
      if (closed || queue.length >= queueLimit) {
        log.error({ alert: kind, queueLimit }, 'alert queue full; alert dropped');
        options.onResult?.(kind, 'dropped');
        return;
      }
      queue.push({ kind, body });
      pumping ??= pump().catch((err: unknown) => {
        pumping = undefined;
        log.error({ err }, 'alert delivery loop failed');
      });
    },
    async close(timeout = 5000) {
      closed = true;
      if (pumping) {
        // A ref'd timer: while close() waits, the (unref'd) retry timers must still get to fire.
        let timer: NodeJS.Timeout | undefined;
        const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeout)));
        await Promise.race([pumping, deadline]);
        clearTimeout(timer);
      }
      stop.abort();
      await pumping;
    },
  };
}

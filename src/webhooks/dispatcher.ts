/**
 * The dispatcher: claims due deliveries from the outbox and sends them, in the workflows worker process
 * (every deployment runs one; the `dev` and `demo` stacks too). Apart from the batches by design: a
 * batch only writes events to the store (EventSink.record), so a receiver that is down or slow never
 * stalls or slows it. With PostgreSQL any number of workflows workers dispatch together (claims lock
 * endpoint rows and lease deliveries, and a lease a dead process held runs out); with the filesystem
 * store one process per data dir dispatches (the `webhook-dispatcher` lock), another takes over when
 * it dies.
 *
 * Rules: at most `maxInFlight` deliveries per endpoint at once; the events of one subject to one
 * endpoint in sequence order (a later one waits until the earlier is delivered or finally failed); 2xx
 * is delivered; 410 disables the endpoint at once; other failures are retried on the schedule
 * (schedule.ts) until the tries run out; an endpoint without a success for 5 days is disabled. Each
 * disabling is logged and shown by `webhooks list`.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Agent } from 'undici';
import type { Logger } from '../logging/logger.js';
import { registerSecret } from '../logging/secrets.js';
import { takeFsLock } from '../store/fs-lock.js';
import { FAILING_DISABLE_MS, nextDelay, retryAfterMs } from './schedule.js';
import { deliveryAgent, liveSecrets, sendSigned, type SendResult } from './send.js';
import type { AllowList } from './ssrf.js';
import type { AttemptOutcome, ClaimedDelivery, EndpointRecord, WebhookStore } from './types.js';

/** What the dispatcher tells metrics of each try. */
export type TryOutcome = 'delivered' | 'retry' | 'failed' | 'disabled';

export interface DispatcherOptions {
  store: WebhookStore;
  logger: Logger;
  allow: AllowList;
  /** Delay before each try, ms (schedule.ts); its length is the number of tries. */
  retryDelays: readonly number[];
  /** Deliveries in flight per endpoint, at most (SCRAPEFLOW_WEBHOOK_MAX_IN_FLIGHT). @default 4 */
  maxInFlight?: number;
  /** Deliveries in flight in this process, at most. @default 64 */
  maxTotal?: number;
  /** How often an idle dispatcher looks for due deliveries, ms. @default 1000 */
  pollMs?: number;
  /**
   * How long a claim holds a delivery, ms: longer than a try (15 s) and its write; a dispatcher that
   * dies holding some delays them this long. @default 30000
   */
  leaseMs?: number;
  /** With the filesystem store: its data dir, whose `webhook-dispatcher` lock this process must hold. */
  fsDataDir?: string;
  onTry?: (outcome: TryOutcome, endpointId: string) => void;
}

export interface Dispatcher {
  /** Looks for due deliveries now (after a record). */
  wake(): void;
  /** Stops claiming and waits for the tries in flight. */
  stop(): Promise<void>;
}

export function startDispatcher(options: DispatcherOptions): Dispatcher {
  const { store, logger, allow, retryDelays } = options;
  const log = logger.child({ component: 'webhooks' });
  const maxInFlight = options.maxInFlight ?? 4;
  const maxTotal = options.maxTotal ?? 64;
  const pollMs = options.pollMs ?? 1000;
  const leaseMs = options.leaseMs ?? 30_000;
  const holder = `${hostname()}/${process.pid}/${randomBytes(4).toString('hex')}`;
  const agent: Agent = deliveryAgent(allow);
  const inFlight = new Set<Promise<void>>();
  let stopped = false;
  let wakeUp: (() => void) | undefined;
  /** A wake-up that came while the loop was busy: the next idle returns at once. */
  let woken = false;
  let lock: { release(): Promise<void> } | undefined;

  const wake = () => {
    woken = true;
    wakeUp?.();
  };
  const idle = (ms: number) =>
    new Promise<void>((resolve) => {
      if (woken) return resolve();
      const timer = setTimeout(resolve, ms);
      timer.unref();
      wakeUp = () => {
        clearTimeout(timer);
        resolve();
      };
    });

  async function disable(endpoint: EndpointRecord, reason: 'gone' | 'failing', now: Date) {
    await store.updateEndpoint(endpoint.id, {
      enabled: false,
      disabledReason: reason,
      disabledAt: now.toISOString(),
    });
    log.warn(
      { endpointId: endpoint.id, reason },
      reason === 'gone'
        ? 'webhook endpoint disabled: it answered 410 Gone'
        : 'webhook endpoint disabled: no delivery succeeded for 5 days',
    );
    options.onTry?.('disabled', endpoint.id);
  }

  /** The outcome of a try, and what it does to the endpoint. */
  async function settle(d: ClaimedDelivery, endpoint: EndpointRecord, result: SendResult, now: Date) {
    const attempts = d.attempts + 1;
    const base = {
      at: now.toISOString(),
      ...(result.status !== undefined ? { status: result.status } : {}),
      ...(result.error !== undefined ? { error: result.error } : {}),
      latencyMs: result.latencyMs,
    };
    const ok = result.status !== undefined && result.status >= 200 && result.status < 300;
    if (ok) {
      if (endpoint.failingSince) await store.updateEndpoint(endpoint.id, { failingSince: undefined });
      options.onTry?.('delivered', endpoint.id);
      return { attempt: base, status: 'delivered' } satisfies AttemptOutcome;
    }
    if (result.status === 410) {
      await disable(endpoint, 'gone', now);
      return { attempt: base, status: 'failed' } satisfies AttemptOutcome;
    }
    const failingSince = endpoint.failingSince ?? now.toISOString();
    if (!endpoint.failingSince) await store.updateEndpoint(endpoint.id, { failingSince });
    else if (now.getTime() - Date.parse(failingSince) >= FAILING_DISABLE_MS)
      await disable(endpoint, 'failing', now);
    const honoured =
      result.status === 429 || result.status === 503
        ? retryAfterMs(result.retryAfter, now.getTime())
        : undefined;
    const delay = nextDelay(retryDelays, attempts, honoured, now.getTime() - Date.parse(d.timestamp));
    if (delay === undefined) {
      options.onTry?.('failed', endpoint.id);
      log.warn(
        { endpointId: endpoint.id, eventId: d.eventId, attempts },
        'webhook delivery failed: no tries left',
      );
      return { attempt: base, status: 'failed' } satisfies AttemptOutcome;
    }
    options.onTry?.('retry', endpoint.id);
    return {
      attempt: { ...base, nextAttemptAt: new Date(now.getTime() + delay).toISOString() },
      status: 'pending',
    } satisfies AttemptOutcome;
  }

  async function deliver(d: ClaimedDelivery): Promise<void> {
    const endpoint = await store.getEndpoint(d.endpointId);
    if (!endpoint?.enabled) return; // removed or disabled since the claim: the lease runs out
    for (const s of endpoint.secrets) registerSecret(s.secret);
    const now = new Date();
    const result = await sendSigned(agent, allow, {
      url: endpoint.url,
      id: d.eventId,
      body: d.body,
      secrets: liveSecrets(endpoint.secrets, now),
    });
    const done = new Date();
    await store.complete(d.eventId, d.endpointId, holder, await settle(d, endpoint, result, done));
    log.debug(
      {
        endpointId: d.endpointId,
        eventId: d.eventId,
        status: result.status,
        error: result.error,
        latencyMs: result.latencyMs,
      },
      'webhook try',
    );
  }

  async function mayDispatch(): Promise<boolean> {
    if (!options.fsDataDir) return true;
    if (lock) return true;
    const attempt = await takeFsLock(options.fsDataDir, 'webhook-dispatcher');
    if (attempt.held) lock = attempt;
    return attempt.held;
  }

  async function loop(): Promise<void> {
    while (!stopped) {
      let claimed: ClaimedDelivery[] = [];
      woken = false;
      try {
        if ((await mayDispatch()) && inFlight.size < maxTotal)
          claimed = await store.claim(holder, new Date(), leaseMs, maxInFlight, maxTotal - inFlight.size);
      } catch (err) {
        log.warn({ err }, 'could not claim webhook deliveries; trying again');
      }
      for (const d of claimed) {
        const running: Promise<void> = deliver(d)
          .catch((err: unknown) =>
            log.warn({ err, endpointId: d.endpointId, eventId: d.eventId }, 'webhook try not recorded'),
          )
          .finally(() => {
            inFlight.delete(running);
            wake(); // the subject's next event may be due now
          });
        inFlight.add(running);
      }
      if (claimed.length === 0 && !stopped) await idle(pollMs);
    }
  }

  const running = loop();
  return {
    wake,
    async stop() {
      stopped = true;
      wake();
      await running;
      await Promise.allSettled([...inFlight]);
      await agent.close().catch(() => undefined);
      await lock?.release();
    },
  };
}

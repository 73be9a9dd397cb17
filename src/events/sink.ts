/**
 * The event sink workers record events through (EventSink, types.ts): a write to the store's outbox
 * (src/webhooks), so an event is durable and fanned out to its endpoints once `record` resolves, and
 * delivery happens apart from it (the dispatcher of a workflows worker). A store without an outbox (a
 * test double) records nothing.
 */
import type { Config } from '../config/env.js';
import type { Logger } from '../logging/logger.js';
import { ensureAlertEndpoint } from '../webhooks/alert-endpoint.js';
import { localDispatchers } from '../webhooks/start.js';
import { webhookStoreOf } from '../webhooks/store.js';
import type { EventSink } from './types.js';

export interface EventSinkDeps {
  config: Pick<Config, 'ALERT_WEBHOOK_URL' | 'ALERT_WEBHOOK_SECRET'>;
  /** The result store: its outbox is beside it (src/webhooks/store.ts). */
  store: object;
  logger: Logger;
}

export async function openEventSink(deps: EventSinkDeps): Promise<EventSink & { close(): Promise<void> }> {
  const store = webhookStoreOf(deps.store);
  if (store) await ensureAlertEndpoint(store, deps.config, deps.logger);
  return {
    async record(drafts) {
      if (!store || drafts.length === 0) return;
      await store.record(drafts, new Date());
      for (const dispatcher of localDispatchers) dispatcher.wake();
    },
    async close() {
      await store?.close?.();
    },
  };
}

/**
 * Opens the event sink of a process: where emitters (the record activity, the balance watcher) record
 * events. This is a placeholder that logs each draft and resolves; the store-backed sink (outbox, fan-out
 * to endpoints) replaces its body, keeping the signature.
 */
import type { Config } from '../config/env.js';
import type { Logger } from '../logging/logger.js';
import type { ResultStore } from '../store/types.js';
import type { EventSink } from './types.js';

export interface EventSinkDeps {
  config: Config;
  store: ResultStore;
  logger: Logger;
}

export async function openEventSink({
  logger,
}: EventSinkDeps): Promise<EventSink & { close(): Promise<void> }> {
  const log = logger.child({ component: 'events' });
  return Promise.resolve({
    record(drafts) {
      for (const draft of drafts)
        log.debug(
          { event: 'event_recorded', id: draft.id, type: draft.type, subject: draft.subject },
          draft.type,
        );
      return Promise.resolve();
    },
    close: () => Promise.resolve(),
  });
}

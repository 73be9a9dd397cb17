/**
 * An in-memory `EventSink` for tests: keeps every draft recorded (re-records included, in call order) so
 * a test reads what was emitted, and lets it wait for an id without sleeping. `failNext` makes the next
 * calls reject, as a store outage would; `failAfterRecording` as a crash after the record would.
 */
import { EventEmitter, once } from 'node:events';
import type { EventDraft, EventSink } from '../../src/events/types.js';

export interface MemoryEventSink extends EventSink {
  /** Every draft of every call, in order (an id recorded twice appears twice). */
  readonly calls: EventDraft[];
  /** The first draft of each id, in the order first recorded: what an idempotent sink keeps. */
  distinct(): EventDraft[];
  /** The drafts of one subject (a batch id), first of each id, in order. */
  of(subject: string): EventDraft[];
  /** Resolves once `id` has been recorded (bounded by `timeoutMs`). */
  waitFor(id: string, timeoutMs?: number): Promise<EventDraft>;
  /** The next `n` calls reject, recording nothing (a store outage). */
  failNext(n: number): void;
  /**
   * The first call that holds `id` records its drafts, then rejects (a worker killed after the store
   * had them): the activity's retry records them again.
   */
  failAfterRecording(id: string): void;
  close(): Promise<void>;
}

export function memoryEventSink(): MemoryEventSink {
  const calls: EventDraft[] = [];
  const recorded = new EventEmitter();
  let failures = 0;
  const failAfter = new Set<string>();
  const distinct = () => {
    const seen = new Map<string, EventDraft>();
    for (const d of calls) if (!seen.has(d.id)) seen.set(d.id, d);
    return [...seen.values()];
  };
  return {
    calls,
    distinct,
    of: (subject) => distinct().filter((d) => d.subject === subject),
    record(drafts) {
      if (failures > 0) {
        failures -= 1;
        return Promise.reject(new Error('event store unavailable (test)'));
      }
      for (const draft of drafts) {
        calls.push(structuredClone(draft));
        recorded.emit(draft.id, draft);
      }
      const crash = drafts.find((d) => failAfter.delete(d.id));
      if (crash) return Promise.reject(new Error(`worker lost after recording ${crash.id} (test)`));
      return Promise.resolve();
    },
    async waitFor(id, timeoutMs = 60_000) {
      const found = calls.find((d) => d.id === id);
      if (found) return found;
      const [draft] = (await once(recorded, id, { signal: AbortSignal.timeout(timeoutMs) })) as [EventDraft];
      return draft;
    },
    failNext(n) {
      failures = n;
    },
    failAfterRecording(id) {
      failAfter.add(id);
    },
    close: () => Promise.resolve(),
  };
}

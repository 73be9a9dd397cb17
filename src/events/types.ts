/**
 * Events: what batches, pages, monitors and accounts tell the outside world (webhooks). This file is the
 * contract between the code that emits events (workflows through an activity, the balance watcher, the
 * monitors) and the code that records and delivers them (src/webhooks/).
 *
 * Durability: an emitter calls `EventSink.record` and moves on only once it resolved: the event is then
 * in the store's outbox, fanned out to every subscribed endpoint, and survives any crash.
 */

export const BATCH_EVENT_TYPES = [
  'batch.started',
  'batch.paused',
  'batch.resumed',
  'batch.page.completed',
  'batch.completed',
  'batch.failed',
  'batch.cancelled',
] as const;
export const ACCOUNT_EVENT_TYPES = ['account.low_balance'] as const;
export const MONITOR_EVENT_TYPES = [
  'monitor.run.completed',
  'monitor.changes',
  'monitor.run.skipped',
  'monitor.paused',
] as const;
/** Every type an endpoint can subscribe to (`ping` is sent by `webhooks test` only, to one endpoint). */
export const EVENT_TYPES = [...BATCH_EVENT_TYPES, ...ACCOUNT_EVENT_TYPES, ...MONITOR_EVENT_TYPES] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** What an emitter supplies; the sink adds `timestamp` and `sequence` when it first records the id. */
export interface EventDraft {
  /**
   * Derived from the business event, never random (`<batchId>.completed`, `<batchId>/p3.completed`,
   * `<batchId>.paused.2`), so a retried or re-emitted event keeps its id.
   */
  id: string;
  type: EventType;
  /** The OmniScrape account label the event belongs to: endpoints of other accounts never see it. */
  account: string;
  /**
   * What `sequence` counts: the batch id for batch events, the monitor name (`monitor:<name>`) for
   * monitor events, `account:<label>` for account events.
   */
  subject: string;
  /** Type-specific payload (src/events/catalogue.ts); JSON only. */
  data: Record<string, unknown>;
}

/** An event as recorded: the body every delivery of it carries, byte for byte. */
export interface WebhookEvent {
  id: string;
  type: EventType | 'ping';
  /** ISO time of the first record; a re-emission does not change it. */
  timestamp: string;
  /** 1, 2, 3… per subject, gap-free, fixed at the first record. */
  sequence: number;
  data: Record<string, unknown>;
}

export interface EventSink {
  /**
   * Records the drafts, in order. Idempotent by id: an id already recorded keeps its first timestamp,
   * sequence and data. Resolves once they are durable and fanned out to the endpoints subscribed then.
   */
  record(drafts: readonly EventDraft[]): Promise<void>;
}

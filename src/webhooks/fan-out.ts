/** What both stores do alike when they record an event: its body, and the endpoints it goes to. */
import type { EventDraft, WebhookEvent } from '../events/types.js';
import { matchesPatterns } from './patterns.js';
import type { EndpointRecord } from './types.js';

/** The WebhookEvent JSON of a first record: stored once, sent byte for byte on every try. */
export function eventBody(draft: EventDraft, timestamp: Date, sequence: number): string {
  const event: WebhookEvent = {
    id: draft.id,
    type: draft.type,
    timestamp: timestamp.toISOString(),
    sequence,
    data: draft.data,
  };
  return JSON.stringify(event);
}

/**
 * Whether `endpoint` receives an event of `type` on `account`: enabled, of that account (or of every
 * account, when it names none) and subscribed to the type.
 */
export function subscribes(
  endpoint: Pick<EndpointRecord, 'enabled' | 'account' | 'events'>,
  account: string,
  type: string,
): boolean {
  return (
    endpoint.enabled &&
    (endpoint.account === undefined || endpoint.account === account) &&
    matchesPatterns(endpoint.events, type)
  );
}

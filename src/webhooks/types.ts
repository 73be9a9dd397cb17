/**
 * Webhook endpoints and their deliveries, as both stores keep them (src/webhooks/pg-store.ts,
 * fs-store.ts). The store is the durable outbox of events: `record` writes an event and, in the same
 * transaction, one delivery per subscribed endpoint; the dispatcher (dispatcher.ts) claims due
 * deliveries and sends them. Why an outbox and not a Temporal workflow per delivery: 2,000 page events
 * × endpoints × a day of retries would cost history per event and per attempt, while the store already
 * holds a batch's results and a delivery log is then one query.
 */
import type { EventDraft } from '../events/types.js';

/** An endpoint's signing secret: the current one first; older ones sign too until `expiresAt`. */
export interface EndpointSecret {
  /** `whsec_` and base64 of 24 random bytes (Standard Webhooks). */
  secret: string;
  /** ISO time after which a rotated-out secret no longer signs; absent on the current one. */
  expiresAt?: string;
}

export interface EndpointRecord {
  /** `ep_` and 16 hex digits. */
  id: string;
  url: string;
  /** The account whose events it receives; absent: every account's (made by an admin). */
  account?: string;
  /** Event types or `batch.*`-style patterns; empty: every event. */
  events: string[];
  description?: string;
  /** `http:` allowed (`--allow-http`). */
  allowHttp: boolean;
  enabled: boolean;
  /** Why it is disabled: `manual`, `gone` (a 410), `failing` (5 days without a success). */
  disabledReason?: string;
  disabledAt?: string;
  createdAt: string;
  /** First failed attempt since the last success: 5 days of it disables the endpoint. */
  failingSince?: string;
  secrets: EndpointSecret[];
}

/** What `webhooks list` shows of an endpoint: its secrets only as a prefix. */
export type EndpointInfo = Omit<EndpointRecord, 'secrets'> & { secretPrefix: string };

export type EndpointPatch = Partial<
  Pick<EndpointRecord, 'enabled' | 'disabledReason' | 'disabledAt' | 'failingSince' | 'secrets'>
>;

export const DELIVERY_STATUSES = ['pending', 'delivered', 'failed'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

/** One try of a delivery: what the receiver answered, or why there was no answer. */
export interface Attempt {
  at: string;
  /** The HTTP status, when the receiver answered. */
  status?: number;
  /** Why the attempt failed without an answer (timeout, refused address, connection error). */
  error?: string;
  latencyMs: number;
  /** When the next try is due; absent once the delivery is delivered or finally failed. */
  nextAttemptAt?: string;
}

export interface Delivery {
  eventId: string;
  endpointId: string;
  type: string;
  account: string;
  subject: string;
  sequence: number;
  status: DeliveryStatus;
  attempts: number;
  nextAttemptAt?: string;
  createdAt: string;
  /** The attempts, oldest first. */
  log: Attempt[];
}

/** A delivery claimed by a dispatcher: the exact body to send and the endpoint it goes to. */
export interface ClaimedDelivery {
  eventId: string;
  endpointId: string;
  subject: string;
  sequence: number;
  attempts: number;
  /** The WebhookEvent JSON, stored once at record: every try sends these bytes. */
  body: string;
  /** The event's first record time (webhook-timestamp is the time of each try). */
  timestamp: string;
}

/** What a dispatcher writes after a try. */
export interface AttemptOutcome {
  attempt: Attempt;
  status: DeliveryStatus;
}

export interface DeliveryFilter {
  endpointId?: string;
  eventId?: string;
  status?: DeliveryStatus;
  /** Only the deliveries of these endpoints' (a scoped token's view). */
  endpointIds?: readonly string[];
  /** Newest first, at most. @default 100 */
  limit?: number;
}

export interface DeliveryCounts {
  pending: number;
  delivered: number;
  failed: number;
  disabledEndpoints: number;
}

export interface WebhookStore {
  createEndpoint(record: EndpointRecord): Promise<void>;
  getEndpoint(id: string): Promise<EndpointRecord | undefined>;
  listEndpoints(): Promise<EndpointRecord[]>;
  /** Changes an endpoint; false when there is none. */
  updateEndpoint(id: string, patch: EndpointPatch): Promise<boolean>;
  /** Removes an endpoint and its deliveries; false when there is none. */
  removeEndpoint(id: string): Promise<boolean>;
  /**
   * Records events, idempotent by id (an id recorded keeps its first timestamp, sequence and data),
   * numbering each subject's events 1, 2, 3… and fanning each new one out to the enabled endpoints of
   * its account whose patterns match, all in one transaction.
   */
  record(drafts: readonly EventDraft[], now: Date): Promise<void>;
  /** The event's account and subject, when recorded. */
  eventInfo(id: string): Promise<{ account: string; type: string } | undefined>;
  /**
   * Leases due deliveries to `holder` until `now + leaseMs`: of enabled endpoints, at most
   * `maxInFlight` leased per endpoint, and of one subject to one endpoint only the earliest pending.
   */
  claim(
    holder: string,
    now: Date,
    leaseMs: number,
    maxInFlight: number,
    limit: number,
  ): Promise<ClaimedDelivery[]>;
  /** Writes a try's outcome and frees the lease (ignored when `holder` no longer holds it). */
  complete(eventId: string, endpointId: string, holder: string, outcome: AttemptOutcome): Promise<void>;
  deliveries(filter: DeliveryFilter): Promise<Delivery[]>;
  /**
   * Makes the event's deliveries (to `endpointId` only, when given) pending and due now; creates one to
   * each of `endpointIds` that has none. Returns how many.
   */
  redeliver(eventId: string, endpointIds: readonly string[], now: Date): Promise<number>;
  counts(): Promise<DeliveryCounts>;
  close?(): Promise<void>;
}

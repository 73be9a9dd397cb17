/**
 * The event activity (task queue `scrapeflow`, beside the control activities): records what a batch
 * tells the outside world through the process's `EventSink`. The workflow sends what only it knows
 * (ids, states, counts); this activity adds what the world holds (links from the configured bases, a
 * pause's message, a page's failed URLs from the store), checks each against the catalogue and records
 * them. Everything it adds is read from immutable sources (records never change status, the bases are
 * the deployment's), so a retry records the same drafts. Its retry policy has no attempt limit: a
 * store outage delays the batch, it never loses an event; a draft the catalogue refuses is a bug and
 * fails the batch visibly.
 */
import { ApplicationFailure, activityInfo } from '@temporalio/activity';
import type { Logger } from '../logging/logger.js';
import { withoutCredentials } from '../logging/url-credentials.js';
import type { ResultStore } from '../store/types.js';
import type { PauseReason } from '../workflows/types.js';
import {
  PAGE_FAILURES_LISTED,
  checkEventData,
  type BatchLinks,
  type PageFailure,
} from '../events/catalogue.js';
import type { EventDraft, EventSink } from '../events/types.js';

/** Where the links events carry point. */
export interface EventLinkBases {
  /** The HTTP service as receivers reach it (SCRAPEFLOW_PUBLIC_URL). */
  publicUrl: string;
  /** The Temporal Web UI (TEMPORAL_UI_URL). */
  uiUrl: string;
}

export interface EventActivityDeps {
  events: EventSink;
  store: ResultStore;
  logger: Logger;
  links: EventLinkBases;
}

/** Input lines read per store call while looking for a page's failures. */
const READ_CHUNK = 500;

/** What a pause event says: what stopped the batch, and what fixes it. */
export function pauseMessage(reason: PauseReason, account: string): string {
  const label = JSON.stringify(account);
  switch (reason) {
    case 'auth':
      return (
        `OmniScrape refused the API key of account ${label}, or the workers have no key for it: fix ` +
        `OMNISCRAPE_KEY (account default) or the account's entry in SCRAPEFLOW_ACCOUNTS_FILE on every ` +
        'scrape and browser worker, then resume its batches'
      );
    case 'balance':
      return `the OmniScrape balance of account ${label} is exhausted: top up, then resume its batches`;
    case 'outage':
      return `OmniScrape is unreachable or failing most calls of account ${label}: its batches resume by themselves when it answers`;
    case 'budget':
      return `the batch reached its credit cap (maxCredits): resume it with a higher --max-credits`;
    default:
      return `the batch was paused by an operator: resume it to go on`;
  }
}

/** The links of a batch's events. */
export function batchLinks(bases: EventLinkBases, namespace: string, batchId: string): BatchLinks {
  const api = `${bases.publicUrl.replace(/\/+$/, '')}/v1/batches/${encodeURIComponent(batchId)}`;
  const ui = bases.uiUrl.replace(/\/+$/, '');
  return {
    status: api,
    results: `${api}/results`,
    webUi: `${ui}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(batchId)}`,
  };
}

/**
 * The failed and dead-lettered URLs of input lines [from, to), the first `PAGE_FAILURES_LISTED`, read
 * from the store. `expected` (the page's counts) bounds the reading: a page without failures reads
 * nothing, and the reading stops at the last one.
 */
export async function pageFailures(
  store: ResultStore,
  batchId: string,
  { from, to, expected }: { from: number; to: number; expected: number },
): Promise<PageFailure[]> {
  const failures: PageFailure[] = [];
  let seen = 0;
  for (let offset = from; offset < to && seen < expected && failures.length < PAGE_FAILURES_LISTED;) {
    const items = await store.readInput(batchId, offset, Math.min(READ_CHUNK, to - offset));
    if (items.length === 0) break;
    for (const item of items) {
      if (item.duplicateOf !== undefined || item.index >= to) continue;
      const record = await store.getResult(batchId, item.index);
      if (!record || record.status === 'succeeded') continue;
      seen += 1;
      failures.push({
        index: item.index,
        url: withoutCredentials(record.url),
        status: record.status,
        reason: record.reason ?? 'unknown',
      });
      if (seen >= expected || failures.length >= PAGE_FAILURES_LISTED) break;
    }
    offset = items[items.length - 1]!.index + 1;
  }
  return failures;
}

export function createEventActivities({ events, store, logger, links }: EventActivityDeps) {
  /** A draft as the workflow sent it, with what the world holds added. */
  async function complete(draft: EventDraft, namespace: string): Promise<EventDraft> {
    const { type, data } = draft;
    if (!type.startsWith('batch.')) return draft;
    const batchId = String(data.batchId);
    const base = batchLinks(links, namespace, batchId);
    if (type === 'batch.paused')
      return {
        ...draft,
        data: { ...data, message: pauseMessage(data.reason as PauseReason, draft.account), links: base },
      };
    if (type !== 'batch.page.completed') return { ...draft, data: { ...data, links: base } };
    const counts = data.counts as { failed: number; dead_lettered: number };
    const expected = counts.failed + counts.dead_lettered;
    const failures =
      expected > 0
        ? await pageFailures(store, batchId, { from: Number(data.from), to: Number(data.to), expected })
        : [];
    return {
      ...draft,
      data: {
        ...data,
        failures,
        failuresOmitted: Math.max(0, expected - failures.length),
        links: { ...base, failures: `${base.results}?status=failed` },
      },
    };
  }

  return {
    /**
     * Records the drafts, in order, once each is complete and matches the catalogue; resolves when the
     * sink has them durably. Idempotent (the sink keeps an id's first record).
     */
    async recordEvents(drafts: EventDraft[]): Promise<void> {
      const namespace = activityInfo().workflowNamespace ?? activityInfo().activityNamespace ?? 'default';
      const completed: EventDraft[] = [];
      for (const draft of drafts) {
        const done = await complete(draft, namespace);
        const issues = checkEventData(done.type, done.data);
        if (issues.length > 0)
          throw ApplicationFailure.nonRetryable(
            `event ${done.id} (${done.type}) does not match the catalogue: ${issues.join('; ')}`,
            'EventInvalid',
          );
        completed.push(done);
      }
      await events.record(completed);
      logger.debug({ event: 'events_recorded', ids: completed.map((d) => d.id) }, 'events recorded');
    },
  };
}

export type EventActivities = ReturnType<typeof createEventActivities>;

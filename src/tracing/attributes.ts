/**
 * What our own spans say (no OpenTelemetry import: the activities use this whether or not the process
 * traces). An OmniScrape call's span carries its log line's fields, the URL without credentials and
 * never a key.
 */
import { withoutCredentials } from '../logging/url-credentials.js';
import type { CallEntry } from '../activities/scrape.js';

export type SpanAttributes = Record<string, string | number | boolean>;

/** What an outcome means to someone reading a trace: it worked, OmniScrape said no, or it failed. */
export function outcomeClass(outcome: string): 'ok' | 'failed' | 'error' {
  if (outcome === 'success' || outcome === 'submitted' || outcome === 'pending') return 'ok';
  return outcome === 'failed' ? 'failed' : 'error';
}

/** An OmniScrape call's span attributes, from its log line and the batch's mode. */
export function callAttributes(entry: CallEntry, mode: string): SpanAttributes {
  return {
    'omniscrape.call': entry.call,
    'omniscrape.mode': mode,
    'omniscrape.outcome': entry.outcome,
    'omniscrape.outcome_class': outcomeClass(entry.outcome),
    'omniscrape.method_used': entry.method_used ?? '',
    'omniscrape.charged': entry.charged,
    'omniscrape.attempt': entry.attempt,
    'omniscrape.account': entry.account,
    'scrapeflow.batch_id': entry.batchId,
    'scrapeflow.index': entry.index,
    'url.full': withoutCredentials(entry.url),
    ...(entry.status !== null ? { 'http.response.status_code': entry.status } : {}),
    ...(entry.job_id ? { 'omniscrape.job_id': entry.job_id } : {}),
  };
}

/** A BaaS session's span attributes (charged once connected: the session is billed from there). */
export function sessionAttributes(session: {
  outcome: string;
  account: string;
  attempt: number;
  url: string;
  charged: number;
}): SpanAttributes {
  return {
    'omniscrape.call': 'browser_session',
    'omniscrape.outcome': session.outcome,
    'omniscrape.outcome_class': outcomeClass(
      session.outcome === 'dead_lettered' ? 'failed' : session.outcome,
    ),
    'omniscrape.method_used': 'browser',
    'omniscrape.charged': session.charged,
    'omniscrape.attempt': session.attempt,
    'omniscrape.account': session.account,
    'url.full': withoutCredentials(session.url),
  };
}

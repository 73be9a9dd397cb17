/**
 * What our own spans say (no OpenTelemetry import: the activities use this whether or not the process
 * traces). A span carries the URL without credentials and never a key; an OmniScrape call's attributes
 * come from its log line (src/activities/calls.ts).
 */
import { withoutCredentials } from '../logging/url-credentials.js';

export type SpanAttributes = Record<string, string | number | boolean>;

/** What an outcome means to someone reading a trace: it worked, OmniScrape said no, or it failed. */
export function outcomeClass(outcome: string): 'ok' | 'failed' | 'error' {
  if (outcome === 'success' || outcome === 'submitted' || outcome === 'pending') return 'ok';
  return outcome === 'failed' ? 'failed' : 'error';
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

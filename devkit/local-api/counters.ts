/**
 * The counters the admin endpoint reports (`GET /admin/counters`). Platform tests assert against them,
 * so every update happens synchronously, before the response it describes is written: a client that
 * reads the counters after its own request returned always sees that request counted.
 */
import { EventEmitter } from 'node:events';

export type Endpoint = 'scrape' | 'async_submit' | 'async_poll';

/**
 * An outcome is the HTTP status as a string (`'401'`, `'429'`, `'202'` ...), except for scrape answers
 * with HTTP 200, which are `'200_success'` or `'200_failed'`, and `'client_closed'` for a request whose
 * client went away before the answer was written.
 */
export type Outcome = string;

export interface CountersSnapshot {
  /** When the counters were last reset (ISO 8601). */
  since: string;
  /** Requests to /v1 by outcome, all endpoints together. */
  outcomes: Record<Outcome, number>;
  /** Requests by endpoint, then by outcome. */
  endpoints: Record<Endpoint, Record<Outcome, number>>;
  async: {
    /** Jobs created (idempotent replays not included). */
    submitted: number;
    /** Jobs created per target URL. */
    submitted_by_url: Record<string, number>;
    /** Submits answered with an existing job because of their `Idempotency-Key`. */
    idempotent_replays: number;
    /** Poll requests, whatever their answer. */
    polls: number;
    completed: number;
    failed: number;
  };
  credits: {
    /** Credits charged, net of refunds for responses that could not be delivered. */
    charged_total: number;
    charged_by_account: Record<string, number>;
  };
  concurrency: {
    /** Sync scrapes in flight now, per account id. */
    current_by_account: Record<string, number>;
    /** Most sync scrapes ever in flight at once, per account id. */
    peak_by_account: Record<string, number>;
    /**
     * Sync scrapes refused (429) because the account's sync scrapes in flight filled its plan by
     * themselves: the client went over its plan. Per account id.
     */
    refused_over_plan_by_account: Record<string, number>;
    /**
     * Sync scrapes refused (429) because running async jobs held the plan slots the account's sync
     * scrapes left free (jobs and sync scrapes share the plan). Per account id.
     */
    refused_for_jobs_by_account: Record<string, number>;
  };
  /** Chromium renders started. */
  renders_started: number;
  /** How many times each fault rule fired, by rule id. */
  faults_fired: Record<string, number>;
  /** The BaaS endpoint (`/browser`, see baas.ts). */
  browser: {
    /** Upgrades by outcome: `'101'` (a session handed over) or the refusal's status (`'401'`, `'429'` ...). */
    outcomes: Record<Outcome, number>;
    /** Sessions handed to a client. */
    sessions_started: number;
    /** Sessions ended (client or browser gone, limit reached, API closing). */
    sessions_ended: number;
    /** Seconds of ended sessions, summed. */
    session_seconds: number;
    /** Requests refused because of `render_media=false`. */
    blocked_requests: number;
    /** Sessions open now, per account id. */
    current_by_account: Record<string, number>;
    /** Most sessions ever open at once, per account id. */
    peak_by_account: Record<string, number>;
  };
}

function bump(map: Map<string, number>, key: string, by = 1): void {
  map.set(key, (map.get(key) ?? 0) + by);
}

/** The same keys, each at zero. */
function zeroes(gauge: Record<string, number>): Map<string, number> {
  return new Map(Object.keys(gauge).map((key) => [key, 0]));
}

export class Counters {
  /** Emits `outcome` with the endpoint and outcome each time a request is counted (tests wait on it). */
  readonly events = new EventEmitter<{ outcome: [Endpoint, Outcome] }>();
  #since = new Date();
  #outcomes = new Map<Outcome, number>();
  #endpoints = new Map<Endpoint, Map<Outcome, number>>();
  #submittedByUrl = new Map<string, number>();
  #submitted = 0;
  #replays = 0;
  #polls = 0;
  #completed = 0;
  #failed = 0;
  #chargedTotal = 0;
  #chargedByAccount = new Map<string, number>();
  #current = new Map<string, number>();
  #peak = new Map<string, number>();
  #refusedOverPlan = new Map<string, number>();
  #refusedForJobs = new Map<string, number>();
  #renders = 0;
  #faults = new Map<string, number>();
  #browserOutcomes = new Map<Outcome, number>();
  #browserStarted = 0;
  #browserEnded = 0;
  #browserSeconds = 0;
  #browserBlocked = 0;
  #browserCurrent = new Map<string, number>();
  #browserPeak = new Map<string, number>();

  outcome(endpoint: Endpoint, outcome: Outcome): void {
    bump(this.#outcomes, outcome);
    const byOutcome = this.#endpoints.get(endpoint) ?? new Map<Outcome, number>();
    this.#endpoints.set(endpoint, byOutcome);
    bump(byOutcome, outcome);
    this.events.emit('outcome', endpoint, outcome);
  }

  asyncSubmitted(url: string): void {
    this.#submitted += 1;
    bump(this.#submittedByUrl, url);
  }

  idempotentReplay(): void {
    this.#replays += 1;
  }

  poll(): void {
    this.#polls += 1;
  }

  jobEnded(status: 'complete' | 'failed'): void {
    if (status === 'complete') this.#completed += 1;
    else this.#failed += 1;
  }

  /** Records a charge (or, with a negative amount, a refund). */
  charged(accountId: string, credits: number): void {
    if (credits === 0) return;
    this.#chargedTotal += credits;
    bump(this.#chargedByAccount, accountId, credits);
  }

  /** Records the number of sync scrapes now in flight for an account, keeping the peak. */
  syncInFlight(accountId: string, current: number): void {
    this.#current.set(accountId, current);
    if (current > (this.#peak.get(accountId) ?? 0)) this.#peak.set(accountId, current);
  }

  /**
   * Records a sync scrape refused for want of a plan slot: `overPlan` when the account's sync scrapes in
   * flight filled the plan by themselves, else running async jobs held the slots they left.
   */
  refusedForSlot(accountId: string, overPlan: boolean): void {
    bump(overPlan ? this.#refusedOverPlan : this.#refusedForJobs, accountId);
  }

  renderStarted(): void {
    this.#renders += 1;
  }

  faultFired(ruleId: string): void {
    bump(this.#faults, ruleId);
  }

  browserOutcome(outcome: Outcome): void {
    bump(this.#browserOutcomes, outcome);
  }

  browserSessionStarted(accountId: string, open: number): void {
    this.#browserStarted += 1;
    this.#browserCurrent.set(accountId, open);
    if (open > (this.#browserPeak.get(accountId) ?? 0)) this.#browserPeak.set(accountId, open);
  }

  browserSessionEnded(accountId: string, open: number, seconds: number): void {
    this.#browserEnded += 1;
    this.#browserSeconds += seconds;
    this.#browserCurrent.set(accountId, open);
  }

  browserBlocked(): void {
    this.#browserBlocked += 1;
  }

  /** Zeroes everything; peaks restart from what is in flight now. */
  reset(): void {
    const current = this.#current;
    this.#browserOutcomes = new Map();
    this.#browserStarted = this.#browserEnded = this.#browserSeconds = this.#browserBlocked = 0;
    this.#browserPeak = new Map(this.#browserCurrent);
    this.#since = new Date();
    this.#outcomes = new Map();
    this.#endpoints = new Map();
    this.#submittedByUrl = new Map();
    this.#submitted = this.#replays = this.#polls = this.#completed = this.#failed = 0;
    this.#chargedTotal = 0;
    this.#chargedByAccount = new Map();
    this.#peak = new Map(current);
    this.#refusedOverPlan = new Map();
    this.#refusedForJobs = new Map();
    this.#renders = 0;
    this.#faults = new Map();
  }

  /**
   * Takes up the cumulative counts of a snapshot (a restart loading its state file). Gauges start at
   * zero: nothing is in flight in a process that just started.
   */
  restore(s: CountersSnapshot): void {
    const map = (o: Record<string, number>) => new Map(Object.entries(o));
    this.#since = new Date(s.since);
    this.#outcomes = map(s.outcomes);
    this.#endpoints = new Map(
      (Object.entries(s.endpoints) as [Endpoint, Record<Outcome, number>][]).map(([e, o]) => [e, map(o)]),
    );
    this.#submitted = s.async.submitted;
    this.#submittedByUrl = map(s.async.submitted_by_url);
    this.#replays = s.async.idempotent_replays;
    this.#polls = s.async.polls;
    this.#completed = s.async.completed;
    this.#failed = s.async.failed;
    this.#chargedTotal = s.credits.charged_total;
    this.#chargedByAccount = map(s.credits.charged_by_account);
    this.#current = zeroes(s.concurrency.current_by_account);
    this.#peak = map(s.concurrency.peak_by_account);
    this.#refusedOverPlan = map(s.concurrency.refused_over_plan_by_account);
    this.#refusedForJobs = map(s.concurrency.refused_for_jobs_by_account);
    this.#renders = s.renders_started;
    this.#faults = map(s.faults_fired);
    this.#browserOutcomes = map(s.browser.outcomes);
    this.#browserStarted = s.browser.sessions_started;
    this.#browserEnded = s.browser.sessions_ended;
    this.#browserSeconds = s.browser.session_seconds;
    this.#browserBlocked = s.browser.blocked_requests;
    this.#browserCurrent = zeroes(s.browser.current_by_account);
    this.#browserPeak = map(s.browser.peak_by_account);
  }

  snapshot(): CountersSnapshot {
    const obj = (m: Map<string, number>): Record<string, number> => Object.fromEntries(m);
    const endpoint = (e: Endpoint): Record<Outcome, number> =>
      obj(this.#endpoints.get(e) ?? new Map<Outcome, number>());
    return {
      since: this.#since.toISOString(),
      outcomes: obj(this.#outcomes),
      endpoints: {
        scrape: endpoint('scrape'),
        async_submit: endpoint('async_submit'),
        async_poll: endpoint('async_poll'),
      },
      async: {
        submitted: this.#submitted,
        submitted_by_url: obj(this.#submittedByUrl),
        idempotent_replays: this.#replays,
        polls: this.#polls,
        completed: this.#completed,
        failed: this.#failed,
      },
      credits: { charged_total: this.#chargedTotal, charged_by_account: obj(this.#chargedByAccount) },
      concurrency: {
        current_by_account: obj(this.#current),
        peak_by_account: obj(this.#peak),
        refused_over_plan_by_account: obj(this.#refusedOverPlan),
        refused_for_jobs_by_account: obj(this.#refusedForJobs),
      },
      renders_started: this.#renders,
      faults_fired: obj(this.#faults),
      browser: {
        outcomes: obj(this.#browserOutcomes),
        sessions_started: this.#browserStarted,
        sessions_ended: this.#browserEnded,
        session_seconds: Math.round(this.#browserSeconds * 1000) / 1000,
        blocked_requests: this.#browserBlocked,
        current_by_account: obj(this.#browserCurrent),
        peak_by_account: obj(this.#browserPeak),
      },
    };
  }
}

/**
 * The local API's moving parts, shared by the routes and exposed on the handle for tests: accounts,
 * fault rules, counters, async jobs and the engine.
 */
import type { ScrapeRequest } from '../../src/omniscrape/types.js';
import type { Logger } from '../../src/logging/logger.js';
import type { Account, Accounts } from './accounts.js';
import type { BaasSessions } from './baas.js';
import { Reservation, cheapestPrice } from './billing.js';
import type { ChargeLedger } from './charges.js';
import type { Counters } from './counters.js';
import type { Engine, ScrapeOutcome } from './engine.js';
import type { FaultInjector } from './faults.js';
import type { JobStore } from './jobs.js';
import type { ScrapeReplays } from './replays.js';

export interface LocalApiSettings {
  retryAfterSec: number;
  maxHangMs: number;
  minPollIntervalMs: number;
  jobTtlMs: number;
}

export interface LocalApiState {
  readonly accounts: Accounts;
  readonly faults: FaultInjector;
  readonly counters: Counters;
  /** Every charge kept, by call (`GET /admin/charges`). */
  readonly charges: ChargeLedger;
  readonly jobs: JobStore;
  /** Delivered sync answers by Idempotency-Key. */
  readonly replays: ScrapeReplays;
  readonly engine: Engine;
  readonly settings: LocalApiSettings;
  /** Browser (BaaS) sessions; tests wait on `baas.events`. */
  readonly baas: BaasSessions;
  readonly logger: Logger;
  /** Aborts when the server closes: hangs, delays and jobs stop. */
  readonly closing: AbortSignal;
}

export type HeldRun =
  | { kind: 'insufficient_balance'; needed: number }
  | { kind: 'done'; outcome: ScrapeOutcome; reservation: Reservation };

/**
 * Holds the cheapest price the request can run for, runs it, and hands back the outcome with the hold
 * still open, for the caller to commit (or release) when it knows whether the answer is delivered.
 * Throws (with the hold released) when the engine throws, e.g. because `signal` aborted.
 */
export async function runHeld(
  state: LocalApiState,
  account: Account,
  req: ScrapeRequest,
  signal: AbortSignal,
): Promise<HeldRun> {
  const needed = cheapestPrice(req.mode);
  const reservation = Reservation.take(account, needed);
  if (!reservation) return { kind: 'insufficient_balance', needed };
  try {
    const result = await state.engine.run(req, { signal, ensureCredits: (n) => reservation.raiseTo(n) });
    if (result.kind === 'insufficient_balance') {
      reservation.release();
      return result;
    }
    return { kind: 'done', outcome: result.outcome, reservation };
  } catch (err) {
    reservation.release();
    throw err;
  }
}

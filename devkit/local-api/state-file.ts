/**
 * The local API's state file (`stateFile` option, `--state-file`): what a restart must not lose —
 * balances, the counters' cumulative counts and the charge ledger — so a test can kill the API (even
 * with SIGKILL) mid-batch, start it again on the same port, and still prove nothing was charged twice.
 *
 * The file is rewritten (a temporary file, then a rename: never half-written) before every answer
 * leaves the server, so whatever a client was told is on disk by then; changes no answer carries (the
 * refund of an answer that could not be written, a browser session's charge, an async job's end) are
 * saved within `flushMs`. One write per answer: meant for tests that restart the API, not benchmarks.
 *
 * Not kept: async jobs (a poll after a restart gets 404), idempotent answers (a call repeated after a
 * restart does its work again) and holds of calls in flight. A call whose answer the kill itself cut
 * off may therefore stay charged, as with a real service dying mid-write.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { z } from 'zod';
import type { Logger } from '../../src/logging/logger.js';
import type { Accounts } from './accounts.js';
import type { ChargeLedger } from './charges.js';
import type { Counters, CountersSnapshot } from './counters.js';

const tally = z.record(z.string(), z.number());
const countersSchema = z.object({
  since: z.string(),
  outcomes: tally,
  endpoints: z.object({ scrape: tally, async_submit: tally, async_poll: tally }),
  async: z.object({
    submitted: z.number(),
    submitted_by_url: tally,
    idempotent_replays: z.number(),
    polls: z.number(),
    completed: z.number(),
    failed: z.number(),
  }),
  credits: z.object({ charged_total: z.number(), charged_by_account: tally }),
  concurrency: z.object({
    current_by_account: tally,
    peak_by_account: tally,
    refused_over_plan_by_account: tally,
    refused_for_jobs_by_account: tally,
  }),
  renders_started: z.number(),
  faults_fired: tally,
  browser: z.object({
    outcomes: tally,
    sessions_started: z.number(),
    sessions_ended: z.number(),
    session_seconds: z.number(),
    blocked_requests: z.number(),
    current_by_account: tally,
    peak_by_account: tally,
  }),
}) satisfies z.ZodType<CountersSnapshot>;

const stateSchema = z.object({
  version: z.literal(1),
  /** Balance by account id. */
  balances: z.record(z.string(), z.number().int().min(0)),
  counters: countersSchema,
  charges: z.array(
    z.object({
      account: z.string(),
      key: z.string().nullable(),
      url: z.string().nullable(),
      via: z.enum(['scrape', 'async', 'browser']),
      credits: z.number(),
    }),
  ),
});

export interface StateFileParts {
  accounts: Accounts;
  counters: Counters;
  charges: ChargeLedger;
  logger: Logger;
}

export class StateFile {
  #last = '';
  readonly #timer: NodeJS.Timeout;

  private constructor(
    readonly path: string,
    private readonly parts: StateFileParts,
    flushMs: number,
  ) {
    this.#timer = setInterval(() => this.save(), flushMs).unref();
  }

  /**
   * Loads `path` into the parts when it exists (accounts the configuration no longer has are
   * ignored), then keeps it up to date. A file that is not a state file is an error, never overwritten.
   */
  static open(path: string, parts: StateFileParts, flushMs = 200): StateFile {
    let text: string | undefined;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    if (text !== undefined) {
      const parsed = stateSchema.safeParse(JSON.parse(text));
      if (!parsed.success)
        throw new Error(
          `state file ${path}: ${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message}`,
        );
      const { balances, counters, charges } = parsed.data;
      for (const [id, balance] of Object.entries(balances)) {
        const account = parts.accounts.byId(id);
        if (account) account.balance = balance;
      }
      parts.counters.restore(counters);
      parts.charges.restore(charges);
    }
    const file = new StateFile(path, parts, flushMs);
    file.save();
    return file;
  }

  /** Writes the state when it changed since the last write. Synchronous: done before the caller goes on. */
  save(): void {
    const { accounts, counters, charges, logger } = this.parts;
    const text = JSON.stringify({
      version: 1,
      balances: Object.fromEntries(accounts.list().map((a) => [a.id, a.balance])),
      counters: counters.snapshot(),
      charges: charges.list(),
    } satisfies z.input<typeof stateSchema>);
    if (text === this.#last) return;
    try {
      writeFileSync(`${this.path}.tmp`, text);
      renameSync(`${this.path}.tmp`, this.path);
      this.#last = text;
    } catch (err) {
      logger.error({ err, path: this.path }, 'local API state file not written');
    }
  }

  /** A last write, and no more. */
  close(): void {
    clearInterval(this.#timer);
    this.save();
  }
}

/**
 * Plan permits shared through PostgreSQL (the store every multi-host deployment already has): a permit
 * is a row of `scrapeflow_plan_leases` (migration 6) naming its holder, with an expiry that the holder
 * renews while the call runs. An expired row counts as free, so a worker that dies (SIGKILL, lost host)
 * gives its share back within `leaseMs` without anyone cleaning up after it.
 *
 * Taking permits is one short transaction per attempt: an advisory lock per (schema, account) serializes
 * the attempts of one account, expired rows are deleted, and as many rows are inserted as there are
 * waiters in this process and free permits (live rows < limit). Only one attempt per account runs in a
 * process at a time, whatever the number of waiters. A waiter that finds none free waits for a
 * release, heard through LISTEN/NOTIFY (`scrapeflow_plan_permits`, payload `<schema>/<account>`),
 * or for a poll with backoff (up to `maxPollMs`), which also catches expiries and lost notifications.
 *
 * Times are the database's (`now()`), so hosts' clocks do not matter. Tables are where the connection's
 * search_path puts them, as the store's are.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { abortedWait, checkLimit, type PlanPermits, type ReleasePermit } from './permits.js';

export interface PgPermitsOptions {
  /** The PostgreSQL URL (SCRAPEFLOW_DATABASE_URL); the store's migrations must have been applied. */
  connectionString: string;
  /** Permits per account: the plan's concurrency limit. */
  limit: number;
  /**
   * How long a lease lives unless renewed, in milliseconds: how soon a dead worker's permits are free
   * again. Held leases are renewed every third of it. @default 10000
   */
  leaseMs?: number;
  /** Longest pause between two attempts of a waiting account when no release is heard. @default 500 */
  maxPollMs?: number;
  /** Names this process in its rows (`holder`). @default `<hostname>/<pid>/<random>` */
  holder?: string;
  /** Told about database errors the permits survive (renewals, releases, the listener). */
  onError?: (err: Error, what: string) => void;
}

/** First key of the advisory lock of an account's attempts (the second hashes schema and account). */
const LOCK_PLAN = 0x5346_0002;
const CHANNEL = 'scrapeflow_plan_permits';
const FIRST_POLL_MS = 20;

interface Waiter {
  grant(leaseId: string): void;
  fail(err: Error): void;
}

interface AccountState {
  waiters: Set<Waiter>;
  pumping: boolean;
  /** A release was heard since the last attempt began. */
  heard: boolean;
  wake?: () => void;
}

export class PgPermits implements PlanPermits {
  readonly limit: number;
  readonly holder: string;
  readonly #pool: pg.Pool;
  readonly #connectionString: string;
  readonly #leaseMs: number;
  readonly #maxPollMs: number;
  readonly #onError: (err: Error, what: string) => void;
  readonly #accounts = new Map<string, AccountState>();
  /** Leases held now: id → account. */
  readonly #held = new Map<string, string>();
  readonly #renewTimer: NodeJS.Timeout;
  #listener: pg.Client | undefined;
  #schema = '';
  #closed = false;
  /** Lease transactions under way: `close` lets them end before it deletes this holder's leases. */
  readonly #taking = new Set<Promise<unknown>>();

  private constructor(options: PgPermitsOptions) {
    this.limit = checkLimit(options.limit);
    this.#leaseMs = options.leaseMs ?? 10_000;
    if (!Number.isInteger(this.#leaseMs) || this.#leaseMs < 300)
      throw new RangeError(`leaseMs must be an integer of at least 300, got ${this.#leaseMs}`);
    this.#maxPollMs = options.maxPollMs ?? 500;
    this.holder = options.holder ?? `${hostname()}/${process.pid}/${randomBytes(4).toString('hex')}`;
    this.#onError = options.onError ?? (() => {});
    this.#connectionString = options.connectionString;
    this.#pool = new pg.Pool({ connectionString: options.connectionString, max: 4 });
    this.#pool.on('error', (err) => this.#onError(err, 'idle connection'));
    this.#renewTimer = setInterval(() => void this.#renew(), Math.floor(this.#leaseMs / 3));
    this.#renewTimer.unref();
  }

  /** Connects (pool and listener) and checks that the leases table exists. */
  static async open(options: PgPermitsOptions): Promise<PgPermits> {
    const permits = new PgPermits(options);
    try {
      const { rows } = await permits.#pool.query<{ schema: string; table: string | null }>(
        `SELECT current_schema() AS schema, to_regclass('scrapeflow_plan_leases')::text AS table`,
      );
      if (!rows[0]?.table)
        throw new Error(
          'the table scrapeflow_plan_leases is missing: open the PostgreSQL store first (it applies the migrations)',
        );
      permits.#schema = rows[0].schema;
      await permits.#listen();
    } catch (err) {
      await permits.close();
      throw err;
    }
    return permits;
  }

  /** Live leases per account, across every holder (tests, `scrapeflow` diagnostics). */
  async liveLeases(account: string): Promise<number> {
    const { rows } = await this.#pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM scrapeflow_plan_leases WHERE account = $1 AND expires_at > now()',
      [account],
    );
    return rows[0]?.n ?? 0;
  }

  acquire(account: string, options: { signal?: AbortSignal } = {}): Promise<ReleasePermit> {
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(abortedWait(account, signal));
    if (this.#closed) return Promise.reject(new Error('the plan permits are closed'));
    const state = this.#state(account);
    return new Promise<ReleasePermit>((resolve, reject) => {
      const cleanup = () => {
        signal?.removeEventListener('abort', onAbort);
        state.waiters.delete(waiter);
      };
      const waiter: Waiter = {
        grant: (leaseId) => {
          cleanup();
          resolve(this.#releaser(account, leaseId));
        },
        fail: (err) => {
          cleanup();
          reject(err);
        },
      };
      const onAbort = () => {
        cleanup();
        reject(abortedWait(account, signal));
      };
      state.waiters.add(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#pump(account, state);
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#renewTimer);
    for (const [account, state] of this.#accounts) {
      for (const waiter of [...state.waiters])
        waiter.fail(new Error(`the plan permits closed while waiting for one of account ${account}`));
      state.wake?.();
    }
    const listener = this.#listener;
    this.#listener = undefined;
    listener?.removeAllListeners('end');
    listener?.removeAllListeners('error');
    listener?.on('error', () => {});
    await listener?.end().catch(() => undefined);
    // A take that began before the close may still insert leases: they are this holder's too.
    await Promise.allSettled(this.#taking);
    await this.#pool
      .query('DELETE FROM scrapeflow_plan_leases WHERE holder = $1', [this.holder])
      .catch((err: Error) => this.#onError(err, 'releasing on close'));
    this.#held.clear();
    await this.#pool.end();
  }

  #state(account: string): AccountState {
    let state = this.#accounts.get(account);
    if (!state) {
      state = { waiters: new Set(), pumping: false, heard: false };
      this.#accounts.set(account, state);
    }
    return state;
  }

  /** Takes permits for the account's waiters until none waits; one loop per account at a time. */
  #pump(account: string, state: AccountState): void {
    if (state.pumping) return;
    state.pumping = true;
    void (async () => {
      let pause = FIRST_POLL_MS;
      try {
        while (state.waiters.size > 0 && !this.#closed) {
          state.heard = false;
          let granted: string[] = [];
          try {
            granted = await this.#take(account, state.waiters.size);
          } catch (err) {
            this.#onError(err as Error, `taking a permit of account ${account}`);
          }
          for (const leaseId of granted) {
            const next = state.waiters.values().next();
            if (next.done)
              await this.#release(account, leaseId); // its waiter gave up meanwhile
            else next.value.grant(leaseId);
          }
          if (state.waiters.size === 0 || this.#closed) break;
          if (granted.length > 0) pause = FIRST_POLL_MS;
          if (state.heard) continue;
          await new Promise<void>((resolve) => {
            const timer = setTimeout(done, pause);
            function done() {
              clearTimeout(timer);
              state.wake = undefined;
              resolve();
            }
            state.wake = done;
          });
          pause = Math.min(pause * 2, this.#maxPollMs);
        }
      } finally {
        state.pumping = false;
        if (!this.#closed && state.waiters.size > 0) this.#pump(account, state);
      }
    })();
  }

  /** One attempt: up to `want` new leases of the account, as many as are free. */
  async #take(account: string, want: number): Promise<string[]> {
    const taking = this.#takeNow(account, want);
    this.#taking.add(taking);
    try {
      return await taking;
    } finally {
      this.#taking.delete(taking);
    }
  }

  async #takeNow(account: string, want: number): Promise<string[]> {
    const ids = Array.from({ length: want }, () => `${this.holder}/${randomBytes(6).toString('hex')}`);
    const client = await this.#pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock($1::int, hashtext(current_schema() || $2::text))', [
        LOCK_PLAN,
        `/${account}`,
      ]);
      await client.query('DELETE FROM scrapeflow_plan_leases WHERE account = $1 AND expires_at <= now()', [
        account,
      ]);
      const { rows } = await client.query<{ lease_id: string }>(
        `INSERT INTO scrapeflow_plan_leases (lease_id, account, holder, expires_at)
         SELECT id, $1, $2, now() + $3 * interval '1 millisecond' FROM unnest($4::text[]) AS id
         LIMIT GREATEST(0, $5 - (SELECT count(*) FROM scrapeflow_plan_leases WHERE account = $1))
         RETURNING lease_id`,
        [account, this.holder, this.#leaseMs, ids, this.limit],
      );
      await client.query('COMMIT');
      for (const row of rows) this.#held.set(row.lease_id, account);
      return rows.map((r) => r.lease_id);
    } catch (err) {
      broken = err as Error;
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release(broken);
    }
  }

  #releaser(account: string, leaseId: string): ReleasePermit {
    let released = false;
    return async () => {
      if (released) return;
      released = true;
      await this.#release(account, leaseId);
    };
  }

  /** Deletes the lease and tells every process waiting for the account; a failure leaves it to expire. */
  async #release(account: string, leaseId: string): Promise<void> {
    this.#held.delete(leaseId);
    if (this.#closed) return;
    try {
      await this.#pool.query(
        `WITH gone AS (DELETE FROM scrapeflow_plan_leases WHERE lease_id = $1 RETURNING 1)
         SELECT pg_notify($2, current_schema() || '/' || $3::text) FROM gone`,
        [leaseId, CHANNEL, account],
      );
    } catch (err) {
      this.#onError(err as Error, `releasing a permit of account ${account} (it expires on its own)`);
    }
    this.#heard(account);
  }

  #heard(account: string): void {
    const state = this.#accounts.get(account);
    if (!state) return;
    state.heard = true;
    state.wake?.();
  }

  /** Pushes every held lease's expiry forward; a lease found gone (this process stalled) is reported. */
  async #renew(): Promise<void> {
    if (this.#closed || this.#held.size === 0) return;
    try {
      const { rows } = await this.#pool.query<{ lease_id: string }>(
        `UPDATE scrapeflow_plan_leases SET expires_at = now() + $2 * interval '1 millisecond'
         WHERE holder = $1 RETURNING lease_id`,
        [this.holder, this.#leaseMs],
      );
      const alive = new Set(rows.map((r) => r.lease_id));
      const lost = [...this.#held.keys()].filter((id) => !alive.has(id));
      if (lost.length)
        this.#onError(
          new Error(`${lost.length} plan lease(s) expired before renewal: the plan may be exceeded briefly`),
          'renewing leases',
        );
    } catch (err) {
      this.#onError(err as Error, 'renewing leases');
    }
  }

  /** LISTENs on a connection of its own; when it breaks, polling carries on and it reconnects. */
  async #listen(): Promise<void> {
    const client = new pg.Client({ connectionString: this.#connectionString });
    let dropped = false;
    const drop = (err: Error) => {
      if (dropped) return;
      dropped = true;
      this.#onError(err, 'listening for releases (polling meanwhile)');
      if (this.#listener === client) this.#listener = undefined;
      void client.end().catch(() => undefined);
      if (this.#closed) return;
      const timer = setTimeout(() => void this.#listen().catch(() => undefined), 1000);
      timer.unref();
    };
    client.on('error', drop);
    client.on('end', () => drop(new Error('the listening connection ended')));
    client.on('notification', (msg) => {
      const payload = msg.payload ?? '';
      const prefix = `${this.#schema}/`;
      if (payload.startsWith(prefix)) this.#heard(payload.slice(prefix.length));
    });
    if (this.#closed) return;
    this.#listener = client;
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANNEL}`);
    } catch (err) {
      drop(err as Error);
      throw err;
    }
  }
}

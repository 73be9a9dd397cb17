/**
 * Plan permits shared through PostgreSQL (the store every multi-host deployment already has): a permit
 * is a row of `scrapeflow_plan_leases` (migration 6) naming its holder, with an expiry that the holder
 * renews while the call runs. An expired row counts as free, so a worker that dies (SIGKILL, lost host)
 * gives its share back within `leaseMs` without anyone cleaning up after it.
 *
 * Taking permits is one short transaction per attempt: an advisory lock per (schema, account) serializes
 * the attempts of one account, expired rows are deleted, and this process's waiters, most urgent first,
 * get as many new rows as there are free permits (live rows < the account's limit) that no more urgent
 * waiter of another process claims. Those claims are rows of `scrapeflow_plan_waiters` (migration 7):
 * a waiter that found no permit is written there in the same transaction, with its priority and an
 * expiry renewed with the leases, so a dead process's waiters stop claiming within `leaseMs`; a waiter
 * that gets its permit or gives up is deleted. Within a priority, processes are not ordered among
 * each other (the first to ask gets it); within a process, the oldest waiter is served first. Only
 * one attempt per account runs in a process at a time, whatever the number of waiters. A waiter that
 * finds none free waits for a release or a more urgent waiter leaving, heard through LISTEN/NOTIFY
 * (`scrapeflow_plan_permits`, payload `<schema>/<account>`), or for a poll with backoff (up to
 * `maxPollMs`), which also catches expiries and lost notifications.
 *
 * Times are the database's (`now()`), so hosts' clocks do not matter. Tables are where the connection's
 * search_path puts them, as the store's are.
 *
 * Browser session permits (`resource: 'browser'`) live in the same tables: their rows' `account` is
 * `browser` + U+001F + the account's name, a key no account label of a sane accounts file collides
 * with, so each resource has its own count, lock and notifications; plan rows keep the bare name.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import {
  abortedWait,
  limitFunction,
  WaitQueue,
  PERMIT_NOUNS,
  type AcquireOptions,
  type PermitResource,
  type PlanLimit,
  type PlanPermits,
  type ReleasePermit,
} from './permits.js';

export interface PgPermitsOptions {
  /** The PostgreSQL URL (SCRAPEFLOW_DATABASE_URL); the store's migrations must have been applied. */
  connectionString: string;
  /** Permits per account: the plan's concurrency limit, one for all or each account's own. */
  limit: PlanLimit;
  /** What the permits stand for: calls on the plan, or BaaS sessions. @default 'plan' */
  resource?: PermitResource;
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
/** Between a resource and an account name in a row's key: no label of a sane accounts file holds it. */
const KEY_SEPARATOR = '\u001f';

interface Waiter {
  /** Its row in `scrapeflow_plan_waiters`, where other processes see its claim. */
  readonly id: string;
  /** `pending`: being written by an attempt under way; `held`: committed. */
  row: 'none' | 'pending' | 'held';
  grant(leaseId: string): void;
  fail(err: Error): void;
}

interface AccountState {
  waiters: WaitQueue<Waiter>;
  pumping: boolean;
  /** A release was heard since the last attempt began. */
  heard: boolean;
  wake?: () => void;
}

export class PgPermits implements PlanPermits {
  readonly limitOf: (account: string) => number;
  readonly holder: string;
  readonly #resource: PermitResource;
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
    this.limitOf = limitFunction(options.limit);
    this.#resource = options.resource ?? 'plan';
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
      const { rows } = await permits.#pool.query<{ schema: string; tables: boolean }>(
        `SELECT current_schema() AS schema,
                to_regclass('scrapeflow_plan_leases') IS NOT NULL
                  AND to_regclass('scrapeflow_plan_waiters') IS NOT NULL AS tables`,
      );
      if (!rows[0]?.tables)
        throw new Error(
          'the tables scrapeflow_plan_leases and scrapeflow_plan_waiters are missing: open the PostgreSQL store first (it applies the migrations)',
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
      [this.#key(account)],
    );
    return rows[0]?.n ?? 0;
  }

  // async: an account the limits do not know rejects like any other refusal, never throws.
  async acquire(account: string, options: AcquireOptions = {}): Promise<ReleasePermit> {
    const { signal } = options;
    if (signal?.aborted) throw abortedWait(account, signal, this.#resource);
    if (this.#closed) throw new Error(`the ${PERMIT_NOUNS[this.#resource]}s are closed`);
    this.limitOf(account); // an account without a limit waits for nothing
    const state = this.#state(account);
    return new Promise<ReleasePermit>((resolve, reject) => {
      const cleanup = () => {
        signal?.removeEventListener('abort', onAbort);
        state.waiters.delete(waiter);
      };
      const waiter: Waiter = {
        id: `${this.holder}/w/${randomBytes(6).toString('hex')}`,
        row: 'none',
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
        // A row being written now is deleted by its attempt once it commits (see #take).
        if (waiter.row === 'held') void this.#dropWaiters(account, [waiter]);
        reject(abortedWait(account, signal, this.#resource));
      };
      state.waiters.add(waiter, options.priority);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#pump(account, state);
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#renewTimer);
    for (const [account, state] of this.#accounts) {
      for (const { item: waiter } of state.waiters.list())
        waiter.fail(
          new Error(
            `the ${PERMIT_NOUNS[this.#resource]}s closed while waiting for one of account ${account}`,
          ),
        );
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
      .query(
        `WITH leases AS (DELETE FROM scrapeflow_plan_leases WHERE holder = $1)
         DELETE FROM scrapeflow_plan_waiters WHERE holder = $1`,
        [this.holder],
      )
      .catch((err: Error) => this.#onError(err, 'releasing on close'));
    this.#held.clear();
    await this.#pool.end();
  }

  /** The rows' `account` of an account's permits: its name for the plan, prefixed for other resources. */
  #key(account: string): string {
    return this.#resource === 'plan' ? account : `${this.#resource}${KEY_SEPARATOR}${account}`;
  }

  /** The account of a row key of this resource; undefined for another resource's. */
  #accountOf(key: string): string | undefined {
    if (this.#resource === 'plan') return key.includes(KEY_SEPARATOR) ? undefined : key;
    const prefix = `${this.#resource}${KEY_SEPARATOR}`;
    return key.startsWith(prefix) ? key.slice(prefix.length) : undefined;
  }

  #state(account: string): AccountState {
    let state = this.#accounts.get(account);
    if (!state) {
      state = { waiters: new WaitQueue(), pumping: false, heard: false };
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
          let granted: Array<{ waiter: Waiter; leaseId: string }> = [];
          try {
            granted = await this.#take(account, state.waiters.list());
          } catch (err) {
            this.#onError(err as Error, `taking a permit of account ${account}`);
          }
          for (const { waiter, leaseId } of granted) {
            if (state.waiters.has(waiter)) waiter.grant(leaseId);
            else await this.#release(account, leaseId); // its waiter gave up meanwhile
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

  /**
   * One attempt for `queue` (the account's waiters in serving order): a new lease for each of the first
   * waiters that free permits allow, once the claims of more urgent waiters of other processes are
   * counted; the others' claims written (or kept), the served ones' deleted.
   */
  async #take(
    account: string,
    queue: Array<{ priority: number; item: Waiter }>,
  ): Promise<Array<{ waiter: Waiter; leaseId: string }>> {
    const taking = this.#takeNow(account, queue);
    this.#taking.add(taking);
    try {
      return await taking;
    } finally {
      this.#taking.delete(taking);
    }
  }

  async #takeNow(
    account: string,
    queue: Array<{ priority: number; item: Waiter }>,
  ): Promise<Array<{ waiter: Waiter; leaseId: string }>> {
    const limit = this.limitOf(account);
    const key = this.#key(account);
    const client = await this.#pool.connect();
    let broken: Error | undefined;
    let claiming: Array<{ priority: number; item: Waiter }> = [];
    try {
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock($1::int, hashtext(current_schema() || $2::text))', [
        LOCK_PLAN,
        `/${key}`,
      ]);
      // Expired rows are deleted; the counts skip them either way (the statement's own snapshot).
      const { rows } = await client.query<{ held: number; others: Array<{ priority: number; n: number }> }>(
        `WITH expired_leases AS (
           DELETE FROM scrapeflow_plan_leases WHERE account = $1 AND expires_at <= now()
         ), expired_waiters AS (
           DELETE FROM scrapeflow_plan_waiters WHERE account = $1 AND expires_at <= now()
         )
         SELECT (SELECT count(*)::int FROM scrapeflow_plan_leases
                 WHERE account = $1 AND expires_at > now()) AS held,
                (SELECT coalesce(json_agg(json_build_object('priority', priority, 'n', n)), '[]'::json)
                 FROM (SELECT priority, count(*)::int AS n FROM scrapeflow_plan_waiters
                       WHERE account = $1 AND holder <> $2 AND expires_at > now()
                       GROUP BY priority) AS claims) AS others`,
        [key, this.holder],
      );
      const free = limit - (rows[0]?.held ?? 0);
      const others = rows[0]?.others ?? [];
      // Own waiters go in serving order; each needs a free permit that no more urgent waiter elsewhere
      // claims. Later ones are no more urgent, so the first refused ends the grants.
      let served = 0;
      for (const { priority } of queue) {
        const ahead = others.filter((o) => o.priority < priority).reduce((sum, o) => sum + o.n, 0);
        if (served + ahead >= free) break;
        served += 1;
      }
      const serving = queue.slice(0, served);
      claiming = queue.slice(served).filter((w) => w.item.row === 'none');
      for (const w of claiming) w.item.row = 'pending';
      const ids = serving.map(() => `${this.holder}/${randomBytes(6).toString('hex')}`);
      if (ids.length > 0)
        await client.query(
          `INSERT INTO scrapeflow_plan_leases (lease_id, account, holder, expires_at)
           SELECT id, $1, $2, now() + $3 * interval '1 millisecond' FROM unnest($4::text[]) AS id`,
          [key, this.holder, this.#leaseMs, ids],
        );
      const servedRows = serving.filter((w) => w.item.row === 'held').map((w) => w.item.id);
      if (servedRows.length > 0)
        await client.query('DELETE FROM scrapeflow_plan_waiters WHERE waiter_id = ANY($1::text[])', [
          servedRows,
        ]);
      if (claiming.length > 0)
        await client.query(
          `INSERT INTO scrapeflow_plan_waiters (waiter_id, account, holder, priority, expires_at)
           SELECT id, $1, $2, p, now() + $3 * interval '1 millisecond'
           FROM unnest($4::text[], $5::int[]) AS w(id, p)`,
          [key, this.holder, this.#leaseMs, claiming.map((w) => w.item.id), claiming.map((w) => w.priority)],
        );
      await client.query('COMMIT');
      for (const w of serving) w.item.row = 'none';
      for (const w of claiming) w.item.row = 'held';
      for (const id of ids) this.#held.set(id, account);
      return serving.map((w, i) => ({ waiter: w.item, leaseId: ids[i]! }));
    } catch (err) {
      broken = err as Error;
      for (const w of claiming) w.item.row = 'none';
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release(broken);
      // A waiter that gave up while its claim was being written: the claim goes now.
      const left = claiming.filter((w) => w.item.row === 'held' && !this.#waiting(account, w.item));
      if (left.length > 0)
        void this.#dropWaiters(
          account,
          left.map((w) => w.item),
        );
    }
  }

  #waiting(account: string, waiter: Waiter): boolean {
    return this.#accounts.get(account)?.waiters.has(waiter) ?? false;
  }

  /** Deletes waiters' claims and tells the account's other processes (a claim less may free a permit). */
  async #dropWaiters(account: string, waiters: Waiter[]): Promise<void> {
    for (const w of waiters) w.row = 'none';
    if (this.#closed) return;
    try {
      await this.#pool.query(
        `WITH gone AS (DELETE FROM scrapeflow_plan_waiters WHERE waiter_id = ANY($1::text[]) RETURNING 1)
         SELECT pg_notify($2, current_schema() || '/' || $3::text) WHERE EXISTS (SELECT 1 FROM gone)`,
        [waiters.map((w) => w.id), CHANNEL, this.#key(account)],
      );
    } catch (err) {
      this.#onError(err as Error, `withdrawing a waiter of account ${account} (it expires on its own)`);
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
        [leaseId, CHANNEL, this.#key(account)],
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

  /**
   * Pushes the expiry of every held lease and every waiter's claim forward; a lease found gone (this
   * process stalled past its expiry) is reported.
   */
  async #renew(): Promise<void> {
    if (this.#closed) return;
    const claims = [...this.#accounts.values()].some((s) => s.waiters.size > 0);
    if (this.#held.size === 0 && !claims) return;
    try {
      if (claims)
        await this.#pool.query(
          `UPDATE scrapeflow_plan_waiters SET expires_at = now() + $2 * interval '1 millisecond' WHERE holder = $1`,
          [this.holder, this.#leaseMs],
        );
      if (this.#held.size === 0) return;
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
      const account = payload.startsWith(prefix) ? this.#accountOf(payload.slice(prefix.length)) : undefined;
      if (account !== undefined) this.#heard(account);
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

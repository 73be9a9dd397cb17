/**
 * Async jobs: `POST /v1/scrape/async` creates one, `GET /v1/scrape/async/:id` polls it.
 *
 * A job is `queued` until one of its account's concurrency slots is free (running jobs and sync requests
 * share them; a job waits for a slot instead of being refused), `running` while it holds the slot, then
 * `complete` or `failed`. An ended job can be polled for `ttlMs` after it ended; after that, and for ids
 * that never existed or belong to another account, the answer is 404. Polling one job again sooner than
 * `minPollIntervalMs` after its previous accepted poll is refused with 429.
 *
 * A submit carrying an `Idempotency-Key` already used by the same account (for a job not yet expired)
 * gets the existing job back instead of a new one.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { AsyncJobStatus, ScrapeRequest } from '../../src/omniscrape/types.js';
import type { Account, Accounts } from './accounts.js';
import type { FaultRule } from './faults.js';
import type { ScrapeBody } from './response.js';

export interface Job {
  readonly id: string;
  readonly accountId: string;
  readonly request: ScrapeRequest;
  /** The `async_submit` fault rule that fired for this job, applied when it runs. */
  readonly fault: FaultRule | undefined;
  readonly idempotencyKey: string | undefined;
  status: AsyncJobStatus;
  readonly createdAt: number;
  startedAt?: number;
  endedAt?: number;
  /** The sync-shaped answer, once ended. */
  result?: ScrapeBody;
  lastPollAt?: number;
}

export interface JobStoreOptions {
  accounts: Accounts;
  /** Runs a job once it holds a slot; resolves with its sync-shaped answer (never rejects on failure). */
  execute: (job: Job, account: Account, signal: AbortSignal) => Promise<ScrapeBody>;
  /** The answer of a job whose `execute` threw. */
  internalError: (job: Job, account: Account, err: unknown) => ScrapeBody;
  /** How long an ended job stays pollable, in ms. */
  ttlMs: number;
  /** Shortest time between two polls of one job, in ms. */
  minPollIntervalMs: number;
  /** @default Date.now */
  now?: () => number;
}

export class JobStore {
  /** Emits `status` with the job each time a job changes status (tests wait on it). */
  readonly events = new EventEmitter<{ status: [Job] }>();
  readonly #jobs = new Map<string, Job>();
  readonly #byIdempotencyKey = new Map<string, string>();
  /** Ended jobs in the order they ended: the front expires first. */
  #ended: Job[] = [];
  readonly #running = new Set<Promise<void>>();
  readonly #abort = new AbortController();
  readonly #options: JobStoreOptions;
  readonly #now: () => number;

  constructor(options: JobStoreOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /** The job of this account with this idempotency key, if one is still kept. */
  findByIdempotencyKey(account: Account, key: string): Job | undefined {
    this.#sweep();
    const id = this.#byIdempotencyKey.get(`${account.id}\n${key}`);
    return id === undefined ? undefined : this.#jobs.get(id);
  }

  /** Creates a job and starts it in the background. */
  submit(account: Account, request: ScrapeRequest, fault?: FaultRule, idempotencyKey?: string): Job {
    this.#sweep();
    const job: Job = {
      id: `job_${randomUUID()}`,
      accountId: account.id,
      request,
      fault,
      idempotencyKey,
      status: 'queued',
      createdAt: this.#now(),
    };
    this.#jobs.set(job.id, job);
    if (idempotencyKey !== undefined) this.#byIdempotencyKey.set(`${account.id}\n${idempotencyKey}`, job.id);
    const run = this.#run(job, account).finally(() => this.#running.delete(run));
    this.#running.add(run);
    return job;
  }

  /** The job, if it exists, belongs to the account and has not expired. */
  get(id: string, account: Account): Job | undefined {
    this.#sweep();
    const job = this.#jobs.get(id);
    return job && job.accountId === account.id ? job : undefined;
  }

  /** Records a poll; returns 0 when allowed, else the ms until the next poll is. */
  poll(job: Job): number {
    const now = this.#now();
    if (job.lastPollAt !== undefined) {
      const wait = job.lastPollAt + this.#options.minPollIntervalMs - now;
      if (wait > 0) return wait;
    }
    job.lastPollAt = now;
    return 0;
  }

  /** Aborts every job and waits for them to settle. */
  async close(): Promise<void> {
    this.#abort.abort(new Error('local API closing'));
    await Promise.allSettled([...this.#running]);
  }

  async #run(job: Job, account: Account): Promise<void> {
    const signal = this.#abort.signal;
    try {
      await this.#options.accounts.acquireForJob(account, signal);
    } catch {
      return; // closing while queued
    }
    try {
      this.#set(job, 'running');
      const result = await this.#options.execute(job, account, signal);
      if (signal.aborted) return;
      job.result = result;
      this.#set(job, result.success ? 'complete' : 'failed');
    } catch (err) {
      if (signal.aborted) return;
      job.result = this.#options.internalError(job, account, err);
      this.#set(job, 'failed');
    } finally {
      this.#options.accounts.releaseJob(account);
    }
  }

  #set(job: Job, status: AsyncJobStatus): void {
    job.status = status;
    if (status === 'running') job.startedAt = this.#now();
    if (status === 'complete' || status === 'failed') {
      job.endedAt = this.#now();
      this.#ended.push(job);
    }
    this.events.emit('status', job);
  }

  #sweep(): void {
    const cutoff = this.#now() - this.#options.ttlMs;
    let expired = 0;
    for (const job of this.#ended) {
      if ((job.endedAt ?? Infinity) > cutoff) break;
      expired += 1;
      this.#jobs.delete(job.id);
      if (job.idempotencyKey !== undefined)
        this.#byIdempotencyKey.delete(`${job.accountId}\n${job.idempotencyKey}`);
    }
    if (expired > 0) this.#ended = this.#ended.slice(expired);
  }
}

/**
 * The OmniScrape routes: `POST /v1/scrape`, `POST /v1/scrape/async`, `GET /v1/scrape/async/:jobId`.
 *
 * Order of checks on a scrape: API key (401, before the body is read) → body (400 naming the field) →
 * a concurrency slot (429 with Retry-After) → fault rules → balance (402) → the work → the answer, charged
 * once it is written. Async submits answer HTTP 202 `{ job_id, status: 'queued' }` and take no slot;
 * polls take no slot either.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Account } from './accounts.js';
import { ApiError, codeForStatus } from './api-error.js';
import { cheapestPrice } from './billing.js';
import type { Endpoint } from './counters.js';
import type { FaultRule } from './faults.js';
import type { Job } from './jobs.js';
import { parseIdempotencyKey, parseScrapeRequest } from './request.js';
import { failedBody, scrapeBody, type ScrapeBody } from './response.js';
import { runHeld, type LocalApiState } from './state.js';
import { delay } from './wait.js';

/** Which endpoint a route pattern serves. */
export const ENDPOINT_OF_ROUTE: Readonly<Record<string, Endpoint>> = {
  '/v1/scrape': 'scrape',
  '/v1/scrape/async': 'async_submit',
  '/v1/scrape/async/:jobId': 'async_poll',
};

/** The account the onRequest hook authenticated, per request. */
export const accountOf = new WeakMap<FastifyRequest, Account>();

function authenticated(request: FastifyRequest): Account {
  const account = accountOf.get(request);
  if (!account) throw new ApiError(401, 'invalid_api_key', 'missing or unknown API key');
  return account;
}

export function rateLimited(retryAfterSec: number, message: string): ApiError {
  return new ApiError(429, 'rate_limited', message, { retryAfterSec });
}

function insufficient(account: Account, needed: number): ApiError {
  return new ApiError(
    402,
    'insufficient_balance',
    `balance ${account.balance - account.reserved} cannot cover ${needed} credits`,
  );
}

/** The answer a `status` fault forces. */
function forced(rule: FaultRule, state: LocalApiState): ApiError {
  const status = rule.status ?? 500;
  const retryAfterSec = status === 429 ? (rule.retryAfterSec ?? state.settings.retryAfterSec) : undefined;
  return new ApiError(status, codeForStatus(status), `injected fault ${rule.id}`, { retryAfterSec });
}

/** A signal that aborts when the client goes away before its answer is written, or the server closes. */
function clientSignal(reply: FastifyReply, state: LocalApiState): AbortSignal {
  const controller = new AbortController();
  if (reply.raw.destroyed || reply.request.raw.socket.destroyed)
    controller.abort(new Error('client closed the connection'));
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) controller.abort(new Error('client closed the connection'));
  });
  return AbortSignal.any([controller.signal, state.closing]);
}

/** Gives up on a request whose client is gone (or, with `hangExpired`, cuts it off without an answer). */
function abandon(
  reply: FastifyReply,
  state: LocalApiState,
  endpoint: Endpoint,
  outcome: string,
): FastifyReply {
  state.counters.outcome(endpoint, outcome);
  reply.hijack();
  reply.raw.destroy();
  return reply;
}

/**
 * Applies a fired fault rule to a request. Returns 'continue' when the request should go on (after a
 * latency), or the reply when the fault answered it.
 */
async function applyFault(
  rule: FaultRule,
  endpoint: Endpoint,
  reply: FastifyReply,
  signal: AbortSignal,
  state: LocalApiState,
  account: Account,
): Promise<'continue' | FastifyReply> {
  state.counters.faultFired(rule.id);
  switch (rule.action) {
    case 'status':
      throw forced(rule, state);
    case 'success_false':
      state.counters.outcome(endpoint, '200_failed');
      return reply.code(200).send(failedBody('injected_failure', account.balance));
    case 'latency':
      if (await delay(rule.latencyMs ?? 0, signal)) return 'continue';
      return abandon(reply, state, endpoint, 'client_closed');
    case 'hang':
      if (await delay(state.settings.maxHangMs, signal))
        return abandon(reply, state, endpoint, 'hang_expired');
      return abandon(reply, state, endpoint, 'client_closed');
  }
}

async function scrapeInSlot(
  request: FastifyRequest,
  reply: FastifyReply,
  state: LocalApiState,
  account: Account,
  idempotencyKey: string | undefined,
): Promise<FastifyReply> {
  const req = parseScrapeRequest(request.body);
  const signal = clientSignal(reply, state);
  const rule = state.faults.decide('scrape', req.url);
  if (rule) {
    const applied = await applyFault(rule, 'scrape', reply, signal, state, account);
    if (applied !== 'continue') return applied;
  }
  let run;
  try {
    run = await runHeld(state, account, req, signal);
  } catch (err) {
    if (signal.aborted) return abandon(reply, state, 'scrape', 'client_closed');
    throw err;
  }
  if (run.kind === 'insufficient_balance') throw insufficient(account, run.needed);
  if (signal.aborted) {
    run.reservation.release();
    return abandon(reply, state, 'scrape', 'client_closed');
  }
  const { outcome } = run;
  const { charged, balanceAfter } = run.reservation.commit(outcome.success ? outcome.price : 0);
  state.counters.charged(account.id, charged);
  const entry = state.charges.add({
    account: account.id,
    key: idempotencyKey ?? null,
    url: req.url,
    via: 'scrape',
    credits: charged,
  });
  const body = scrapeBody(outcome, charged, balanceAfter);
  // Written out: a repeat of this call (same Idempotency-Key) gets this answer, not a second charge.
  if (idempotencyKey !== undefined)
    reply.raw.once('finish', () => state.replays.remember(account.id, idempotencyKey, body));
  if (charged > 0) {
    // Charged on delivery: an answer that could not be written is refunded.
    reply.raw.once('close', () => {
      if (reply.raw.writableFinished) return;
      account.balance += charged;
      state.counters.charged(account.id, -charged);
      if (entry) state.charges.refund(entry);
    });
  }
  state.counters.outcome('scrape', outcome.success ? '200_success' : '200_failed');
  return reply.code(200).send(body);
}

/** What an async job does once it holds a slot. */
export async function executeJob(
  state: LocalApiState,
  job: Job,
  account: Account,
  signal: AbortSignal,
): Promise<ScrapeBody> {
  const rule = job.fault;
  if (rule?.action === 'success_false') return failedBody('injected_failure', account.balance);
  if (rule?.action === 'latency') await delay(rule.latencyMs ?? 0, signal);
  if (rule?.action === 'hang' && (await delay(state.settings.maxHangMs, signal)))
    return failedBody('hang_expired', account.balance);
  if (signal.aborted) return failedBody('aborted', account.balance);
  const run = await runHeld(state, account, job.request, signal);
  if (run.kind === 'insufficient_balance') return failedBody('insufficient_balance', account.balance);
  const { outcome } = run;
  const { charged, balanceAfter } = run.reservation.commit(outcome.success ? outcome.price : 0);
  state.counters.charged(account.id, charged);
  state.charges.add({
    account: account.id,
    key: job.idempotencyKey ?? null,
    url: job.request.url,
    via: 'async',
    credits: charged,
  });
  return scrapeBody(outcome, charged, balanceAfter);
}

function jobBody(job: Job): Record<string, unknown> {
  return job.result
    ? { ...job.result, job_id: job.id, status: job.status }
    : { job_id: job.id, status: job.status };
}

export function registerApiRoutes(app: FastifyInstance, state: LocalApiState): void {
  const { accounts, counters, faults, jobs, settings } = state;

  app.post('/v1/scrape', async (request, reply) => {
    const account = authenticated(request);
    const idempotencyKey = parseIdempotencyKey(request.headers['idempotency-key']);
    const delivered =
      idempotencyKey === undefined ? undefined : state.replays.get(account.id, idempotencyKey);
    if (delivered !== undefined) {
      // The same call again (its caller lost the answer): the same answer, no work, no charge.
      counters.idempotentReplay();
      counters.outcome('scrape', 'replayed');
      return reply.code(200).send(delivered);
    }
    if (!accounts.tryAcquireSync(account)) {
      counters.refusedForSlot(account.id, account.activeSync >= account.concurrency);
      throw rateLimited(settings.retryAfterSec, `more than ${account.concurrency} scrapes in flight`);
    }
    counters.syncInFlight(account.id, account.activeSync);
    try {
      return await scrapeInSlot(request, reply, state, account, idempotencyKey);
    } finally {
      accounts.releaseSync(account);
      counters.syncInFlight(account.id, account.activeSync);
    }
  });

  app.post('/v1/scrape/async', async (request, reply) => {
    const account = authenticated(request);
    const req = parseScrapeRequest(request.body);
    const idempotencyKey = parseIdempotencyKey(request.headers['idempotency-key']);
    const existing =
      idempotencyKey === undefined ? undefined : jobs.findByIdempotencyKey(account, idempotencyKey);
    if (existing) {
      counters.idempotentReplay();
      counters.outcome('async_submit', '202');
      return reply.code(202).send({ job_id: existing.id, status: existing.status });
    }
    const rule = faults.decide('async_submit', req.url);
    if (rule?.action === 'status') {
      counters.faultFired(rule.id);
      throw forced(rule, state);
    }
    const needed = cheapestPrice(req.mode);
    if (account.balance - account.reserved < needed) throw insufficient(account, needed);
    if (rule) counters.faultFired(rule.id);
    const job = jobs.submit(account, req, rule, idempotencyKey);
    counters.asyncSubmitted(req.url);
    counters.outcome('async_submit', '202');
    return reply.code(202).send({ job_id: job.id, status: job.status });
  });

  app.get<{ Params: { jobId: string } }>('/v1/scrape/async/:jobId', async (request, reply) => {
    const account = authenticated(request);
    counters.poll();
    const job = jobs.get(request.params.jobId, account);
    if (!job) throw new ApiError(404, 'not_found', 'no such job (it may have expired)');
    const waitMs = jobs.poll(job);
    if (waitMs > 0)
      throw rateLimited(
        Math.ceil(waitMs / 1000),
        `poll this job at most every ${settings.minPollIntervalMs} ms`,
      );
    const rule = faults.decide('async_poll', job.request.url);
    if (rule) {
      const applied = await applyFault(rule, 'async_poll', reply, clientSignal(reply, state), state, account);
      if (applied !== 'continue') return applied;
    }
    counters.outcome('async_poll', '200');
    return reply.code(200).send(jobBody(job));
  });
}

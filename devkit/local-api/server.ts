/**
 * The OmniScrape-compatible local API server: `startLocalApi(options)` listens (127.0.0.1 by default)
 * and returns a handle with its origin, its `/v1` base URL and `close()`.
 *
 * Clients authenticate with `X-API-Key`; a missing or unknown key is answered 401 before the body is read.
 * Error bodies are `{ error, message, field? }` (see api-error.ts). Routes: api-routes.ts (scrapes and
 * async jobs), admin-routes.ts (counters, faults, balances, charges), and `GET /healthz`; the BaaS
 * WebSocket `/browser` (baas.ts). With `stateFile`, balances, counters and charges survive a restart
 * (state-file.ts).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyError, type FastifyReply, type FastifyRequest } from 'fastify';
import { registerSecret } from '../../src/logging/secrets.js';
import { createLogger } from '../../src/logging/logger.js';
import { Accounts } from './accounts.js';
import { BaasSessions } from './baas.js';
import { ChargeLedger } from './charges.js';
import { registerAdminRoutes } from './admin-routes.js';
import { ApiError, badRequest } from './api-error.js';
import { ENDPOINT_OF_ROUTE, accountOf, executeJob, registerApiRoutes } from './api-routes.js';
import { Counters } from './counters.js';
import { Engine, type RenderBackend } from './engine.js';
import { FaultInjector, faultRuleSchema } from './faults.js';
import { JobStore } from './jobs.js';
import { ScrapeReplays } from './replays.js';
import type { LocalApiOptions } from './options.js';
import { Renderer } from './renderer.js';
import { failedBody } from './response.js';
import type { LocalApiState } from './state.js';
import { StateFile } from './state-file.js';

export interface LocalApiHandle {
  /** `http://127.0.0.1:P` */
  origin: string;
  /** The OmniScrape base URL: `origin + '/v1'`. */
  url: string;
  port: number;
  /** Live state: accounts, faults, counters, jobs (tests read it and wait on `state.jobs.events`). */
  state: LocalApiState;
  /** Stops listening, drops open connections, aborts hangs and jobs, closes the renderer it created. */
  close(): Promise<void>;
}

const digest = (value: string): Buffer => createHash('sha256').update(value).digest();

/** Constant-time check of `Authorization: Bearer <token>`. */
function bearerMatches(header: string | undefined, token: string): boolean {
  const given = /^Bearer (.+)$/.exec(header ?? '')?.[1];
  return given !== undefined && timingSafeEqual(digest(given), digest(token));
}

function sendApiError(
  reply: FastifyReply,
  state: LocalApiState,
  request: FastifyRequest,
  err: ApiError,
): void {
  const endpoint = ENDPOINT_OF_ROUTE[request.routeOptions.url ?? ''];
  if (endpoint) state.counters.outcome(endpoint, String(err.status));
  if (err.options.retryAfterSec !== undefined)
    void reply.header('retry-after', String(err.options.retryAfterSec));
  void reply.code(err.status).send(err.body);
}

export async function startLocalApi(options: LocalApiOptions): Promise<LocalApiHandle> {
  const logger = options.logger ?? createLogger({ name: 'local-api' });
  for (const account of options.accounts) registerSecret(account.key);
  registerSecret(options.adminToken);

  const closing = new AbortController();
  let ownRenderer: Renderer | undefined;
  const renderer = (): RenderBackend =>
    options.renderer ??
    (ownRenderer ??= new Renderer({
      chromiumPath: options.chromiumPath,
      maxPages: options.renderPages,
      logger,
    }));
  const counters = new Counters();
  const charges = new ChargeLedger();
  const accounts = new Accounts(options.accounts);
  // Before the port opens: the first answer already counts on top of what the last run left.
  const stateFile =
    options.stateFile === undefined
      ? undefined
      : StateFile.open(options.stateFile, { accounts, counters, charges, logger });
  const settings = {
    retryAfterSec: options.retryAfterSec ?? 1,
    maxHangMs: options.maxHangMs ?? 600_000,
    minPollIntervalMs: options.minPollIntervalMs ?? 2000,
    jobTtlMs: options.jobTtlMs ?? 3_600_000,
  };
  const engine = new Engine({
    renderer,
    onRenderStart: () => counters.renderStarted(),
    fetchTimeoutMs: options.fetchTimeoutMs,
  });
  const baas = new BaasSessions({
    accounts,
    counters,
    charges,
    logger,
    retryAfterSec: settings.retryAfterSec,
    ...(options.chromiumPath ? { chromiumPath: options.chromiumPath } : {}),
  });
  const state: LocalApiState = {
    accounts,
    baas,
    counters,
    charges,
    engine,
    settings,
    logger,
    closing: closing.signal,
    faults: new FaultInjector(
      (options.faults ?? []).map((rule) => faultRuleSchema.parse(rule)),
      options.now ?? Date.now,
    ),
    replays: new ScrapeReplays(settings.jobTtlMs, options.now ?? Date.now),
    jobs: new JobStore({
      accounts,
      ttlMs: settings.jobTtlMs,
      minPollIntervalMs: settings.minPollIntervalMs,
      now: options.now,
      execute: (job, account, signal) => executeJob(state, job, account, signal),
      internalError: (job, account, err) => {
        logger.error({ err, jobId: job.id, account: account.id }, 'async job crashed');
        return failedBody('internal_error', account.balance);
      },
    }),
  };
  state.jobs.events.on('status', (job) => {
    if (job.status === 'complete' || job.status === 'failed') counters.jobEnded(job.status);
  });

  const app = Fastify({
    logger: false,
    bodyLimit: options.bodyLimitBytes ?? 1024 * 1024,
    forceCloseConnections: true,
    return503OnClosing: true,
  });

  app.addHook('onRequest', async (request, reply) => {
    const route = request.routeOptions.url ?? '';
    const endpoint = ENDPOINT_OF_ROUTE[route];
    if (endpoint) {
      const key = request.headers['x-api-key'];
      const account = typeof key === 'string' ? accounts.byKey(key) : undefined;
      if (account) accountOf.set(request, account);
      else
        sendApiError(
          reply,
          state,
          request,
          new ApiError(401, 'invalid_api_key', 'missing or unknown API key'),
        );
    } else if (route.startsWith('/admin/') && options.adminToken !== undefined) {
      if (!bearerMatches(request.headers.authorization, options.adminToken))
        sendApiError(reply, state, request, new ApiError(401, 'invalid_api_key', 'admin token required'));
    }
    return reply.sent ? reply : undefined;
  });

  // Whatever an answer tells (a charge, a balance) is in the state file before the answer is written.
  if (stateFile)
    app.addHook('onSend', (_request, _reply, payload, done) => {
      stateFile.save();
      done(null, payload);
    });

  app.setErrorHandler((err: FastifyError, request, reply) => {
    if (err instanceof ApiError) return sendApiError(reply, state, request, err);
    const status = err.statusCode ?? 500;
    if (
      err.code?.startsWith('FST_ERR_CTP_') ||
      err instanceof SyntaxError ||
      (status >= 400 && status < 500)
    ) {
      const message =
        err.code === 'FST_ERR_CTP_BODY_TOO_LARGE' ? 'is larger than the body limit' : 'must be a JSON object';
      return sendApiError(reply, state, request, badRequest('body', message));
    }
    logger.error({ err, route: request.routeOptions.url }, 'local API request failed');
    return sendApiError(reply, state, request, new ApiError(500, 'internal_error', 'internal error'));
  });

  app.setNotFoundHandler((request, reply) =>
    reply
      .code(404)
      .send({ error: 'not_found', message: `no route ${request.method} ${request.url.split('?')[0]}` }),
  );

  baas.attach(app.server);
  app.get('/healthz', () => ({ ok: true }));
  registerApiRoutes(app, state);
  if (options.adminToken !== undefined) registerAdminRoutes(app, state);

  await app.listen({ host: options.host ?? '127.0.0.1', port: options.port ?? 0 });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('local API is not listening on TCP');
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const origin = `http://${host}:${address.port}`;
  logger.debug({ url: `${origin}/v1`, accounts: accounts.list().map((a) => a.id) }, 'local API listening');

  let closed: Promise<void> | undefined;
  return {
    origin,
    url: `${origin}/v1`,
    port: address.port,
    state,
    close: () =>
      (closed ??= (async () => {
        closing.abort(new Error('local API closing'));
        await baas.close();
        await app.close();
        await state.jobs.close();
        await engine.close();
        await ownRenderer?.close();
        stateFile?.close();
      })()),
  };
}

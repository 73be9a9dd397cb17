/**
 * The HTTP service's Fastify app. It is handed one Temporal client and one store, created once for the
 * process (see server.ts); handlers only talk to Temporal and the store, never scrape or render.
 * Every route needs the bearer token.
 */
import { Readable } from 'node:stream';
import type { Client } from '@temporalio/client';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { parseBatchOptions } from '../batch/options.js';
import { cancelBatch, pauseBatch, requireRunning, resumeBatch, startBatch } from '../client/batches.js';
import { parseInput, type InputFormat } from '../client/input.js';
import { getCosts } from '../client/costs.js';
import { listBatches } from '../client/list.js';
import { getProgress } from '../client/progress.js';
import { metricsHandler } from '../metrics/registry.js';
import { redriveBatch } from '../client/redrive.js';
import { exportResults, formatResults } from '../client/results.js';
import { scrapeOne, type ScrapeOneOutcome } from '../client/scrape-one.js';
import type { Logger } from '../logging/logger.js';
import type { ResultStore } from '../store/types.js';
import type { AccountsFile } from '../config/accounts.js';
import { ValidationError } from '../errors.js';
import { bearerChecker } from './auth.js';
import { httpAnswer, sendError, underField, validate } from './errors.js';
import { openApiDocument } from './openapi.js';
import {
  batchParamsSchema,
  listQuerySchema,
  redriveBodySchema,
  resumeBodySchema,
  resultsQuerySchema,
  scrapeBodySchema,
  startBatchBodySchema,
  uploadQuerySchema,
} from './schemas.js';

export interface ServiceDeps {
  client: Client;
  store: ResultStore;
  /** The bearer token every request must present. */
  token: string;
  logger: Logger;
  /** Largest JSON body, bytes (uploaded files stream and are not limited). @default 10 MiB */
  bodyLimitBytes?: number;
  /** The plan's concurrency (OMNISCRAPE_PLAN_CONCURRENCY): a batch's default concurrency comes from it. */
  plan?: number;
  /** The accounts file (SCRAPEFLOW_ACCOUNTS_FILE): batches under a label it does not list are refused. */
  accounts?: AccountsFile;
}

/** Longest path parameter the router takes; ids longer than MAX_BATCH_ID_LENGTH are refused by validation. */
const MAX_PARAM_LENGTH = 1000;

/** Content types accepted as an uploaded input file, and the input format each implies. */
const UPLOAD_TYPES: Record<string, InputFormat> = {
  'text/plain': 'text',
  'text/csv': 'csv',
  'application/x-ndjson': 'jsonl',
  'application/jsonl': 'jsonl',
  'application/ndjson': 'jsonl',
};

const CONTENT_TYPE: Record<'jsonl' | 'csv', string> = {
  jsonl: 'application/x-ndjson; charset=utf-8',
  csv: 'text/csv; charset=utf-8',
};

/** Options given to a JSON body or an upload, checked up front so a 400 names `options.<field>`. */
function checkOptions(options: unknown): void {
  try {
    parseBatchOptions(options);
  } catch (err) {
    throw underField('options', err);
  }
}

function batchLinks(batchId: string) {
  const base = `/v1/batches/${encodeURIComponent(batchId)}`;
  return { progress: base, results: `${base}/results`, deadLetters: `${base}/dead-letters` };
}

/** The HTTP answer for a single-URL scrape, per the guide's section 4 mapping. */
function scrapeAnswer(outcome: ScrapeOneOutcome): { status: number; body: Record<string, unknown> } {
  const ids = { batchId: outcome.batchId, workflowId: outcome.batchId };
  switch (outcome.kind) {
    case 'pending':
      return {
        status: 202,
        body: { ...ids, state: outcome.progress.state, poll: batchLinks(outcome.batchId).progress },
      };
    case 'cancelled':
      return {
        status: 409,
        body: { error: 'cancelled', message: 'the batch was cancelled before the URL ended', ...ids },
      };
    case 'ended': {
      const { state } = outcome.progress;
      const message = `batch ${outcome.batchId} ${state} before the URL ended: ${outcome.failure}`;
      // Cancelled through Temporal is still a cancellation; the other ends are this system's failure.
      return state === 'cancelled'
        ? { status: 409, body: { error: 'cancelled', message, state, ...ids } }
        : { status: 500, body: { error: 'batch_failed', message, state, ...ids } };
    }
    case 'paused':
      if (outcome.reason === 'auth')
        return {
          status: 401,
          body: {
            error: 'omniscrape_auth',
            message: `Invalid OmniScrape API key, or none on the workers for the batch's account: fix OMNISCRAPE_KEY (account default) or the account's entry in SCRAPEFLOW_ACCOUNTS_FILE on the workers, then resume batch ${outcome.batchId} (or cancel it)`,
            ...ids,
          },
        };
      if (outcome.reason === 'balance')
        return {
          status: 402,
          body: {
            error: 'omniscrape_balance',
            message: `OmniScrape balance exhausted, top up required; batch ${outcome.batchId} waits paused: resume it after the top-up (or cancel it)`,
            ...ids,
          },
        };
      return { status: 202, body: { ...ids, state: 'paused', poll: batchLinks(outcome.batchId).progress } };
    case 'done': {
      const { record } = outcome;
      if (record.status === 'succeeded')
        return {
          status: 200,
          body: {
            ...ids,
            url: record.url,
            status: record.status,
            content: outcome.content ?? null,
            fields: record.fields ?? null,
            method_used: record.methodUsed ?? null,
            charged: record.charged,
            record,
          },
        };
      if (record.reason === 'rate_limited')
        return {
          status: 429,
          body: {
            error: 'omniscrape_rate_limited',
            message: 'OmniScrape rate limit: reduce concurrency',
            ...ids,
            record,
          },
        };
      if (record.reason === 'render_timeout')
        return {
          status: 504,
          body: { error: 'render_timeout', message: record.detail ?? 'render timed out', ...ids, record },
        };
      return {
        status: 502,
        body: {
          error: record.status === 'dead_lettered' ? 'scrape_failed' : (record.reason ?? 'upstream_error'),
          message: record.detail ?? 'the scrape failed',
          ...ids,
          record,
        },
      };
    }
  }
}

export async function buildService(deps: ServiceDeps): Promise<FastifyInstance> {
  const { client, store, logger } = deps;
  const context = { accounts: deps.accounts };
  const authorized = bearerChecker(deps.token);
  const app = Fastify({
    logger: false,
    bodyLimit: deps.bodyLimitBytes ?? 10 * 1024 * 1024,
    return503OnClosing: true,
    // Above the longest batch id (encoded, it is the same length: its alphabet needs no escapes), so a
    // longer id reaches validation and gets a 400 naming batchId, not the router's 414.
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
  });

  // Uploaded input files: handed to the handler as the raw stream, parsed line by line.
  app.addContentTypeParser(Object.keys(UPLOAD_TYPES), (_request, payload, done) => done(null, payload));

  app.addHook('onRequest', async (request, reply) => {
    if (authorized(request.headers.authorization)) return;
    void reply.header('www-authenticate', 'Bearer');
    return sendError(reply, {
      status: 401,
      code: 'unauthorized',
      message: 'send Authorization: Bearer <token> (the SCRAPEFLOW_API_TOKEN of this service)',
    });
  });
  app.setErrorHandler((err, request, reply) => {
    const answer = httpAnswer(err);
    if (answer.status >= 500) logger.error({ err, url: request.url }, 'request failed');
    return sendError(reply, answer);
  });
  app.setNotFoundHandler((request, reply) =>
    sendError(reply, {
      status: 404,
      code: 'not_found',
      message: `no route ${request.method} ${request.url}; see GET /openapi.json`,
    }),
  );

  const params = (request: FastifyRequest) => validate(batchParamsSchema, request.params, '').batchId;

  app.get('/healthz', () => ({ ok: true }));
  app.get('/metrics', async (_request, reply) => {
    const page = await metricsHandler();
    return reply.type(page.contentType).send(page.body);
  });
  app.get('/openapi.json', (request) => openApiDocument(`${request.protocol}://${request.host}`));

  app.post('/v1/batches', async (request, reply) => {
    const type = (request.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
    const uploadFormat = UPLOAD_TYPES[type];
    if (uploadFormat) {
      const query = validate(uploadQuerySchema, request.query, 'query');
      let options: unknown;
      if (query.options !== undefined) {
        try {
          options = JSON.parse(query.options);
        } catch {
          throw new ValidationError('query.options: is not JSON', 'query.options');
        }
      }
      checkOptions(options);
      let skipped = 0;
      const urls = parseInput(request.body as Readable, {
        format: query.format ?? uploadFormat,
        skipInvalid: query.skipInvalid === 'true',
        onSkip: () => (skipped += 1),
      });
      const { batchId, total } = await startBatch(
        client,
        store,
        {
          ...(query.batchId ? { batchId: query.batchId } : {}),
          urls,
          options: options as never,
          plan: deps.plan,
        },
        context,
      );
      return reply.code(201).send({ batchId, total, skipped, links: batchLinks(batchId) });
    }
    if (type !== 'application/json')
      return sendError(reply, {
        status: 415,
        code: 'unsupported_media_type',
        message: `send application/json, or a file as ${Object.keys(UPLOAD_TYPES).join(', ')}`,
        extra: { field: 'content-type' },
      });
    const body = validate(startBatchBodySchema, request.body, 'body');
    const { batchId, total } = await startBatch(
      client,
      store,
      {
        ...(body.batchId ? { batchId: body.batchId } : {}),
        urls: body.urls.map((entry) => (typeof entry === 'string' ? { url: entry } : entry)),
        ...(body.options ? { options: body.options } : {}),
        plan: deps.plan,
      },
      context,
    );
    return reply.code(201).send({ batchId, total, links: batchLinks(batchId) });
  });

  app.get('/v1/batches', async (request) => {
    const query = validate(listQuerySchema, request.query, 'query');
    const batches = [];
    for await (const batch of listBatches(client, {
      ...(query.status ? { status: query.status } : {}),
      limit: query.limit,
    }))
      batches.push(batch);
    return { batches };
  });

  app.get('/v1/batches/:batchId', (request) => getProgress(client, store, params(request)));
  app.get('/v1/batches/:batchId/costs', (request) => getCosts(client, store, params(request)));

  for (const [action, run] of [
    ['pause', (id: string, _body: unknown) => pauseBatch(client, id, 'manual')],
    [
      'resume',
      (id: string, body: unknown) => {
        const { maxCredits } = validate(resumeBodySchema, body, 'body') ?? {};
        return resumeBatch(client, id, maxCredits !== undefined ? { maxCredits } : {});
      },
    ],
    ['cancel', (id: string, _body: unknown) => cancelBatch(client, id)],
  ] as const) {
    app.post(`/v1/batches/:batchId/${action}`, async (request, reply) => {
      const batchId = params(request);
      await requireRunning(client, batchId, action);
      await run(batchId, request.body);
      return reply.code(202).send({ batchId, action, links: batchLinks(batchId) });
    });
  }

  app.post('/v1/resume-all', async () => {
    const resumed: string[] = [];
    for await (const batch of listBatches(client, { pauseReasons: ['balance', 'auth'] })) {
      await resumeBatch(client, batch.batchId);
      resumed.push(batch.batchId);
    }
    return { resumed };
  });

  const exportRoute = (deadLettersOnly: boolean) => async (request: FastifyRequest, reply: FastifyReply) => {
    const batchId = params(request);
    const query = validate(resultsQuerySchema, request.query, 'query');
    const status = deadLettersOnly ? 'dead_lettered' : query.status;
    const records = await exportResults(store, batchId, {
      ...(status ? { status } : {}),
      ...(query.tag ? { tag: query.tag } : {}),
    });
    void reply.type(CONTENT_TYPE[query.format]);
    return reply.send(Readable.from(formatResults(records, query.format)));
  };
  app.get('/v1/batches/:batchId/results', exportRoute(false));
  app.get('/v1/batches/:batchId/dead-letters', exportRoute(true));

  app.post('/v1/batches/:batchId/redrive', async (request, reply) => {
    const batchId = params(request);
    const body = validate(redriveBodySchema, request.body ?? {}, 'body');
    const started = await redriveBatch(
      client,
      store,
      {
        batchId,
        ...(body.batchId ? { newBatchId: body.batchId } : {}),
        ...(body.options ? { options: body.options } : {}),
      },
      context,
    ).catch((err: unknown) => {
      throw underField('options', err);
    });
    return reply.code(201).send({
      batchId: started.batchId,
      redrivenFrom: batchId,
      total: started.total,
      links: batchLinks(started.batchId),
    });
  });

  app.post('/v1/scrape', async (request, reply) => {
    const body = validate(scrapeBodySchema, request.body, 'body');
    const outcome = await scrapeOne(
      client,
      store,
      { url: body.url, ...(body.options ? { options: body.options } : {}), waitMs: body.waitMs },
      context,
    );
    const answer = scrapeAnswer(outcome);
    if (answer.status === 429) void reply.header('retry-after', '30');
    return reply.code(answer.status).send(answer.body);
  });

  return app;
}

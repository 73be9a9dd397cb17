/**
 * Every route of the HTTP service, once: what the app registers (app.ts) and what the OpenAPI document
 * describes (openapi.ts) both come from this table, so a route cannot be served undocumented or
 * documented unserved. Handlers only talk to Temporal and the store, never scrape or render.
 */
import { Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { parseBatchOptions } from '../batch/options.js';
import { cancelBatch, pauseBatch, requireRunning, resumeBatch, startBatch } from '../client/batches.js';
import { getCosts } from '../client/costs.js';
import { parseInput } from '../client/input.js';
import type { InputFormat } from '../client/input-format.js';
import { listBatches } from '../client/list.js';
import { getProgress } from '../client/progress.js';
import { redriveBatch } from '../client/redrive.js';
import { exportResults, formatResults } from '../client/results.js';
import { scrapeOne } from '../client/scrape-one.js';
import { accountsOf } from '../auth/principal.js';
import { ValidationError } from '../errors.js';
import { metricsHandler } from '../metrics/registry.js';
import { sendError, underField, validate } from './errors.js';
import { boundedLines, boundedUpload, DEFAULT_LIMITS } from './limits.js';
import { MONITOR_ROUTES } from './monitor-routes.js';
import { openApiDocument } from './openapi.js';
import { principalOf, type ResponseDoc, type Route, type ServiceDeps } from './route.js';
import { batchLinks, scrapeAnswer } from './scrape-answer.js';
import { WEBHOOK_ROUTES } from './webhook-routes.js';
import {
  batchParamsSchema,
  listQuerySchema,
  redriveBodySchema,
  resultsQuerySchema,
  resumeBodySchema,
  scrapeBodySchema,
  startBatchBodySchema,
  uploadQuerySchema,
} from './schemas.js';

/** Content types accepted as an uploaded input file, and the input format each implies. */
export const UPLOAD_TYPES: Record<string, InputFormat> = {
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

const error = (description: string): ResponseDoc => ({ description, error: true });
const NO_BATCH = error('no such batch');

const batchIdOf = (request: FastifyRequest) => validate(batchParamsSchema, request.params, '').batchId;
/** What a start knows: the accounts file, and who starts (startBatch refuses an account it may not act on). */
const contextOf = (deps: ServiceDeps, request: FastifyRequest) => ({
  accounts: deps.accounts,
  principal: principalOf(request),
});

/**
 * Options given to a JSON body or an upload, checked up front (caps included, on the options as sent)
 * so a 400 names `options.<field>` (`body.options.<field>` in a JSON body).
 */
function checkOptions(options: unknown, prefix = 'options'): void {
  try {
    parseBatchOptions(options);
  } catch (err) {
    throw underField(prefix, err);
  }
}

async function startFromUpload(
  deps: ServiceDeps,
  request: FastifyRequest,
  reply: FastifyReply,
  format: InputFormat,
) {
  const startedAt = Date.now();
  const limits = { ...DEFAULT_LIMITS, ...deps.limits };
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
  const parsed = parseInput(boundedUpload(request.body as Readable, limits, startedAt), {
    format: query.format ?? format,
    skipInvalid: query.skipInvalid === 'true',
    onSkip: () => (skipped += 1),
  });
  const urls = boundedLines(parsed, limits.uploadMaxLines);
  // A refused upload may still be arriving: the answer ends the connection instead of reading the rest.
  const refused = (err: unknown) => {
    void reply.header('connection', 'close');
    throw err;
  };
  const { batchId, total } = await startBatch(
    deps.client,
    deps.store,
    {
      ...(query.batchId ? { batchId: query.batchId } : {}),
      urls,
      options: options as never,
      plan: deps.plan,
    },
    contextOf(deps, request),
  ).catch(refused);
  return { batchId, total, skipped, links: batchLinks(batchId) };
}

async function startFromJson(deps: ServiceDeps, request: FastifyRequest) {
  checkOptions((request.body as { options?: unknown } | null)?.options, 'body.options');
  const body = validate(startBatchBodySchema, request.body, 'body');
  const { batchId, total } = await startBatch(
    deps.client,
    deps.store,
    {
      ...(body.batchId ? { batchId: body.batchId } : {}),
      urls: body.urls.map((entry) => (typeof entry === 'string' ? { url: entry } : entry)),
      ...(body.options ? { options: body.options } : {}),
      plan: deps.plan,
    },
    contextOf(deps, request),
  );
  return { batchId, total, links: batchLinks(batchId) };
}

/** A control signal to a running batch: 202 once sent, 409 when the batch has ended. */
function control(
  action: 'pause' | 'resume' | 'cancel',
  summary: string,
  send: (deps: ServiceDeps, batchId: string, body: unknown) => Promise<unknown>,
  body?: Route['body'],
): Route {
  const badBody: Record<number, ResponseDoc> = body ? { 400: error('invalid body (field)') } : {};
  return {
    method: 'POST',
    url: `/v1/batches/:batchId/${action}`,
    scope: 'batch',
    summary,
    ...(body ? { body } : {}),
    responses: {
      202: { description: 'signal sent' },
      ...badBody,
      404: NO_BATCH,
      409: error('the batch has already ended'),
    },
    async handle(deps, request, reply) {
      const batchId = batchIdOf(request);
      await requireRunning(deps.client, batchId, action);
      await send(deps, batchId, request.body);
      return reply.code(202).send({ batchId, action, links: batchLinks(batchId) });
    },
  };
}

/** The records of a batch, streamed as JSON lines or CSV. */
function exportRoute(url: string, summary: string, deadLettersOnly: boolean): Route {
  return {
    method: 'GET',
    url,
    scope: 'batch',
    summary,
    query: deadLettersOnly ? resultsQuerySchema.omit({ status: true }) : resultsQuerySchema,
    responses: {
      200: {
        description: 'one record per URL, streamed',
        content: { 'application/x-ndjson': 'JSON lines', 'text/csv': 'CSV with a header row' },
      },
      400: error('bad query parameter (named in field)'),
      404: NO_BATCH,
    },
    async handle(deps, request, reply) {
      const batchId = batchIdOf(request);
      const query = validate(resultsQuerySchema, request.query, 'query');
      const status = deadLettersOnly ? 'dead_lettered' : query.status;
      const records = await exportResults(deps.store, batchId, {
        ...(status ? { status } : {}),
        ...(query.tag ? { tag: query.tag } : {}),
      });
      void reply.type(CONTENT_TYPE[query.format]);
      return reply.send(Readable.from(formatResults(records, query.format)));
    },
  };
}

export const ROUTES: readonly Route[] = [
  {
    method: 'GET',
    url: '/healthz',
    scope: 'token',
    summary: 'liveness',
    offline: true,
    responses: { 200: { description: '{ok: true}' } },
    handle: () => ({ ok: true }),
  },
  {
    method: 'GET',
    url: '/metrics',
    scope: 'token',
    summary: 'Prometheus metrics of the service process',
    offline: true,
    responses: { 200: { description: 'Prometheus text exposition' } },
    async handle(_deps, _request, reply) {
      const page = await metricsHandler();
      return reply.type(page.contentType).send(page.body);
    },
  },
  {
    method: 'GET',
    url: '/openapi.json',
    scope: 'token',
    summary: 'this document',
    offline: true,
    responses: { 200: { description: 'OpenAPI 3.1' } },
    handle: (_deps, request) => openApiDocument(ROUTES, `${request.protocol}://${request.host}`),
  },
  {
    method: 'POST',
    url: '/v1/batches',
    scope: 'start',
    summary:
      'start a batch from a JSON body, or from an uploaded file (text/plain, text/csv, application/x-ndjson)',
    query: uploadQuerySchema,
    body: { name: 'StartBatch', schema: startBatchBodySchema, required: true },
    uploads: {
      'text/plain': 'one URL per line; # comments',
      'text/csv': 'header row with url (and tags)',
      'application/x-ndjson': '{"url", "tags"} per line',
    },
    responses: {
      201: { description: 'started: {batchId, total, links}' },
      400: error('invalid body (field, and line for files)'),
      408: error('the uploaded file did not arrive within SCRAPEFLOW_REQUEST_TIMEOUT_MS (field body)'),
      413: error(
        'the uploaded file is over SCRAPEFLOW_UPLOAD_MAX_BYTES or SCRAPEFLOW_UPLOAD_MAX_LINES, or the JSON body over its limit (field body)',
      ),
      415: error('neither JSON nor an input file'),
    },
    async handle(deps, request, reply) {
      const type = (request.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
      // Own keys only: a content type such as `constructor` must not read Object.prototype's.
      const uploadFormat = Object.hasOwn(UPLOAD_TYPES, type) ? UPLOAD_TYPES[type] : undefined;
      if (uploadFormat)
        return reply.code(201).send(await startFromUpload(deps, request, reply, uploadFormat));
      if (type !== 'application/json')
        return sendError(reply, {
          status: 415,
          code: 'unsupported_media_type',
          message: `send application/json, or a file as ${Object.keys(UPLOAD_TYPES).join(', ')}`,
          extra: { field: 'content-type' },
        });
      return reply.code(201).send(await startFromJson(deps, request));
    },
  },
  {
    method: 'GET',
    url: '/v1/batches',
    scope: 'accounts',
    summary: 'list batches, newest first',
    query: listQuerySchema,
    responses: {
      200: { description: '{batches: [...]}' },
      400: error('bad query parameter (named in field)'),
    },
    async handle(deps, request) {
      const query = validate(listQuerySchema, request.query, 'query');
      const batches = [];
      const accounts = accountsOf(principalOf(request));
      for await (const batch of listBatches(deps.client, {
        ...(query.status ? { status: query.status } : {}),
        ...(accounts ? { accounts } : {}),
        limit: query.limit,
      }))
        batches.push(batch);
      return { batches };
    },
  },
  {
    method: 'GET',
    url: '/v1/batches/:batchId',
    scope: 'batch',
    summary: 'progress of a batch',
    responses: { 200: { description: 'batch progress', schema: 'BatchProgress' }, 404: NO_BATCH },
    handle: (deps, request) => getProgress(deps.client, deps.store, batchIdOf(request)),
  },
  {
    method: 'GET',
    url: '/v1/batches/:batchId/costs',
    scope: 'batch',
    summary: 'credits spent by the batch: total, by method, by tag',
    responses: {
      200: { description: '{batchId, state, total, byMethod, byTag, lastBalance, urlsDone}' },
      404: NO_BATCH,
    },
    handle: (deps, request) => getCosts(deps.client, deps.store, batchIdOf(request)),
  },
  control('pause', 'pause the batch', (deps, id) => pauseBatch(deps.client, id, 'manual')),
  control(
    'resume',
    'resume the batch',
    (deps, id, body) => {
      const { maxCredits } = validate(resumeBodySchema, body, 'body') ?? {};
      return resumeBatch(deps.client, id, maxCredits !== undefined ? { maxCredits } : {});
    },
    {
      name: 'Resume',
      schema: resumeBodySchema.unwrap().unwrap(),
      description: 'optional: {maxCredits} raises the credit cap (after a budget pause)',
    },
  ),
  control('cancel', 'cancel the batch', (deps, id) => cancelBatch(deps.client, id)),
  exportRoute('/v1/batches/:batchId/results', 'results, one record per URL', false),
  exportRoute('/v1/batches/:batchId/dead-letters', 'dead letters', true),
  {
    method: 'POST',
    url: '/v1/batches/:batchId/redrive',
    scope: 'batch',
    summary: "re-run the batch's dead letters as a new batch",
    body: { name: 'Redrive', schema: redriveBodySchema },
    responses: {
      201: { description: '{batchId, redrivenFrom, total}' },
      400: error('invalid body (field)'),
      403: error("the new batch's account (options.account, else the original's) is not the token's"),
      404: NO_BATCH,
      409: error('no dead letters left to re-drive'),
    },
    async handle(deps, request, reply) {
      const batchId = batchIdOf(request);
      const body = validate(redriveBodySchema, request.body ?? {}, 'body');
      const started = await redriveBatch(
        deps.client,
        deps.store,
        {
          batchId,
          ...(body.batchId ? { newBatchId: body.batchId } : {}),
          ...(body.options ? { options: body.options } : {}),
        },
        contextOf(deps, request),
      ).catch((err: unknown) => {
        throw underField('options', err);
      });
      return reply.code(201).send({
        batchId: started.batchId,
        redrivenFrom: batchId,
        total: started.total,
        links: batchLinks(started.batchId),
      });
    },
  },
  {
    method: 'POST',
    url: '/v1/resume-all',
    scope: 'accounts',
    summary: "resume every batch (of the token's accounts) paused for OmniScrape balance (402) or auth (401)",
    responses: { 200: { description: '{resumed: [batchId...]}' } },
    async handle(deps, request) {
      const resumed: string[] = [];
      const accounts = accountsOf(principalOf(request));
      const paused = listBatches(deps.client, {
        pauseReasons: ['balance', 'auth'],
        ...(accounts ? { accounts } : {}),
      });
      for await (const batch of paused) {
        await resumeBatch(deps.client, batch.batchId);
        resumed.push(batch.batchId);
      }
      return { resumed };
    },
  },
  {
    method: 'POST',
    url: '/v1/scrape',
    scope: 'start',
    summary: 'scrape one URL: a one-URL batch, waited for up to waitMs',
    body: { name: 'Scrape', schema: scrapeBodySchema, required: true },
    responses: {
      200: { description: '{batchId, record, content}' },
      202: { description: 'still running: {batchId, workflowId, poll}' },
      400: error('invalid body (field)'),
      401: error('bad bearer token, or OmniScrape rejected the API key (error omniscrape_auth)'),
      402: error('OmniScrape balance exhausted: the batch waits paused; top up, then resume'),
      409: error('the batch was cancelled before the URL ended (error cancelled)'),
      429: error('OmniScrape rate limit persisted: reduce concurrency'),
      500: error(
        "the batch's workflow failed, was terminated or timed out before the URL ended (error batch_failed, with state and message)",
      ),
      502: error('the scrape failed (success:false, dead-lettered) or another upstream failure'),
      504: error('the render did not finish within its budget'),
    },
    async handle(deps, request, reply) {
      const body = validate(scrapeBodySchema, request.body, 'body');
      const outcome = await scrapeOne(
        deps.client,
        deps.store,
        { url: body.url, ...(body.options ? { options: body.options } : {}), waitMs: body.waitMs },
        contextOf(deps, request),
      );
      const answer = scrapeAnswer(outcome);
      if (answer.status === 429) void reply.header('retry-after', '30');
      return reply.code(answer.status).send(answer.body);
    },
  },
  ...WEBHOOK_ROUTES,
  ...MONITOR_ROUTES,
];

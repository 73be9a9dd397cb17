/**
 * The monitors' routes under /v1/monitors (src/client/monitors.ts, monitor-runs.ts). A monitor belongs
 * to one account: a token of another account gets 404, exactly as for a monitor that does not exist
 * (the handlers pass the principal to `requireMonitor`); a create on an account the token lacks is 403.
 */
import { Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { accountsOf } from '../auth/principal.js';
import {
  backfillMonitor,
  createMonitor,
  deleteMonitor,
  pauseMonitor,
  unpauseMonitor,
  updateMonitor,
  type MonitorRequest,
} from '../client/monitors.js';
import {
  describeMonitor,
  formatChanges,
  listMonitors,
  monitorChanges,
  monitorCosts,
  monitorHistory,
  monitorRuns,
  parseStatuses,
  triggerMonitor,
  type ChangeRow,
} from '../client/monitor-runs.js';
import { httpUrl } from '../omniscrape/types.js';
import { validate } from './errors.js';
import { principalOf, type ResponseDoc, type Route, type ServiceDeps } from './route.js';

const error = (description: string): ResponseDoc => ({ description, error: true });
const NO_MONITOR = error("no such monitor (or another account's)");

const nameParams = z.object({ name: z.string().min(1).max(64) });
const nameOf = (request: FastifyRequest) => validate(nameParams, request.params, '').name;

const sitemapSchema = z
  .object({
    urls: z
      .array(httpUrl)
      .min(1)
      .max(100)
      .describe('sitemap or sitemap-index URLs (or sites, with fromRobots)'),
    fromRobots: z.boolean().optional().describe("take the Sitemap: lines of each URL's robots.txt"),
    fetch: z
      .enum(['omniscrape', 'direct'])
      .optional()
      .describe('through OmniScrape (charged) or a direct GET'),
    include: z
      .array(z.string().min(1).max(500))
      .max(50)
      .optional()
      .describe('globs a page URL must match one of'),
    exclude: z.array(z.string().min(1).max(500)).max(50).optional().describe('globs that drop a page URL'),
    maxUrls: z.number().int().min(1).optional().describe('most page URLs read in all'),
  })
  .strict();

const monitorFields = {
  urls: z
    .array(
      z.union([
        httpUrl,
        z.object({ url: httpUrl, tags: z.array(z.string().min(1).max(100)).max(50).optional() }),
      ]),
    )
    .min(1)
    .optional()
    .describe('the URLs each run scrapes (or `sitemap`)'),
  sitemap: sitemapSchema.optional().describe('read the URLs from sitemaps afresh each run'),
  every: z.string().max(50).optional().describe('run every duration (`30m`, `6h`; at least 1m)'),
  cron: z.string().max(200).optional().describe('run on a cron expression instead'),
  timezone: z.string().max(100).optional().describe('IANA time zone of `cron` (default UTC)'),
  jitter: z.string().max(50).optional().describe('start each run up to this much later, at random'),
  catchupWindow: z
    .string()
    .max(50)
    .optional()
    .describe('after downtime, run a missed time only within it (default 1h)'),
  options: z
    .record(z.string(), z.unknown())
    .optional()
    .describe('batch options of every run (as POST /v1/batches)'),
  maxCreditsPerRun: z.number().min(0).optional().describe("each run's credit cap"),
  maxCreditsPerMonth: z
    .number()
    .min(0)
    .optional()
    .describe("pause the schedule (reason budget) once the month's runs spent this many credits"),
  retainDays: z
    .number()
    .int()
    .min(1)
    .max(36500)
    .optional()
    .describe('days observations are kept (default 90)'),
  changeThresholds: z
    .array(z.string().max(200))
    .max(100)
    .optional()
    .describe('`price=1%`, `price=0.5`, or `1%` for every number field: smaller moves are `same`'),
  skipUnchanged: z.boolean().optional().describe('sitemap URLs whose lastmod is not newer are not scraped'),
  paused: z.boolean().optional().describe('the schedule is paused (runs only by trigger)'),
};

export const createMonitorBodySchema = z
  .object({
    name: z.string().min(1).max(64).describe('the monitor name (runs are batches <name>@<time>)'),
    ...monitorFields,
  })
  .strict();
export const updateMonitorBodySchema = z.object(monitorFields).strict();

const changesQuery = z
  .object({
    run: z.string().max(200).optional().describe("a run's batch id (default: the latest run)"),
    since: z.iso.datetime().optional().describe('every run scheduled since this time'),
    status: z.string().max(200).optional().describe('comma list of change statuses'),
    format: z.enum(['jsonl', 'csv']).default('jsonl'),
    diff: z
      .enum(['true', 'false'])
      .optional()
      .describe('true: add textDiff, a unified diff of each changed text content (outputFormat html)'),
  })
  .strict();
const historyQuery = z
  .object({
    url: httpUrl.describe('the URL'),
    field: z.string().max(200).optional().describe('only this field'),
    format: z.enum(['jsonl', 'csv']).default('jsonl'),
  })
  .strict();
const costsQuery = z.object({ by: z.enum(['url', 'run']).default('url') }).strict();
const backfillBody = z.object({ from: z.iso.datetime(), to: z.iso.datetime() }).strict();

const CONTENT_TYPE = {
  jsonl: 'application/x-ndjson; charset=utf-8',
  csv: 'text/csv; charset=utf-8',
} as const;

function requestOf(body: z.infer<typeof updateMonitorBodySchema>, deps: ServiceDeps): MonitorRequest {
  const { urls, changeThresholds, options, ...rest } = body;
  return {
    ...(rest as Omit<MonitorRequest, 'urls' | 'thresholds' | 'options'>),
    ...(urls ? { urls: urls.map((u) => (typeof u === 'string' ? { url: u } : u)) } : {}),
    ...(changeThresholds ? { thresholds: changeThresholds } : {}),
    ...(options ? { options: options } : {}),
    ...(deps.plan !== undefined ? { plan: deps.plan } : {}),
  };
}

const context = (deps: ServiceDeps, request: FastifyRequest) => ({
  ...(deps.accounts ? { accounts: deps.accounts } : {}),
  principal: principalOf(request),
});

/** A POST /v1/monitors/:name/<action> without a body. */
function action(verb: 'pause' | 'unpause', summary: string): Route {
  return {
    method: 'POST',
    url: `/v1/monitors/:name/${verb}`,
    scope: 'accounts',
    summary,
    responses: { 200: { description: '{name, paused}' }, 404: NO_MONITOR },
    async handle(deps, request) {
      const name = nameOf(request);
      await (verb === 'pause' ? pauseMonitor : unpauseMonitor)(
        deps.client,
        deps.store,
        name,
        principalOf(request),
      );
      return { name, paused: verb === 'pause' };
    },
  };
}

export const MONITOR_ROUTES: readonly Route[] = [
  {
    method: 'POST',
    url: '/v1/monitors',
    scope: 'start',
    summary:
      'create a monitor: a Temporal Schedule whose runs are batches <name>@<time>, with change tracking',
    body: { name: 'CreateMonitor', schema: createMonitorBodySchema, required: true },
    responses: {
      201: { description: 'the monitor: spec, schedule (next 5 runs), estimatedCreditsPerMonth' },
      400: error('invalid body (field)'),
      409: error('the name is taken'),
    },
    async handle(deps, request, reply) {
      const body = validate(createMonitorBodySchema, request.body, 'body');
      const { name, ...rest } = body;
      await createMonitor(deps.client, deps.store, name, requestOf(rest, deps), context(deps, request));
      return reply.code(201).send(await describeMonitor(deps.client, deps.store, name));
    },
  },
  {
    method: 'GET',
    url: '/v1/monitors',
    scope: 'accounts',
    summary: "list monitors (of the token's accounts)",
    responses: { 200: { description: '{monitors: [...]}' } },
    async handle(deps, request) {
      const principal = principalOf(request);
      const monitors = await listMonitors(deps.store, accountsOf(principal) ? principal : undefined);
      return { monitors };
    },
  },
  {
    method: 'GET',
    url: '/v1/monitors/:name',
    scope: 'accounts',
    summary: 'a monitor: spec, state, next runs, last runs, skipped runs, credits this month and estimate',
    responses: { 200: { description: 'the monitor' }, 404: NO_MONITOR },
    handle: (deps, request) =>
      describeMonitor(deps.client, deps.store, nameOf(request), principalOf(request)),
  },
  {
    method: 'POST',
    url: '/v1/monitors/:name',
    scope: 'accounts',
    summary: 'update a monitor (the fields given); a new input applies from the next run',
    body: { name: 'UpdateMonitor', schema: updateMonitorBodySchema, required: true },
    responses: { 200: { description: 'the monitor' }, 400: error('invalid body (field)'), 404: NO_MONITOR },
    async handle(deps, request) {
      const name = nameOf(request);
      const body = validate(updateMonitorBodySchema, request.body, 'body');
      await updateMonitor(deps.client, deps.store, name, requestOf(body, deps), context(deps, request));
      return describeMonitor(deps.client, deps.store, name);
    },
  },
  {
    method: 'DELETE',
    url: '/v1/monitors/:name',
    scope: 'accounts',
    summary: 'delete a monitor and its schedule; its history stays unless ?purge=true',
    query: z.object({ purge: z.enum(['true', 'false']).optional() }).strict(),
    responses: { 200: { description: '{name, purged}' }, 404: NO_MONITOR },
    async handle(deps, request) {
      const name = nameOf(request);
      const purge = (request.query as { purge?: string }).purge === 'true';
      await deleteMonitor(deps.client, deps.store, name, { purge, principal: principalOf(request) });
      return { name, purged: purge };
    },
  },
  action('pause', 'pause the schedule'),
  action('unpause', 'unpause the schedule (also after a budget pause)'),
  {
    method: 'POST',
    url: '/v1/monitors/:name/trigger',
    scope: 'accounts',
    summary: 'run now; skipped (and counted) while a run is going',
    responses: { 202: { description: '{batchId, workflowId, skipped}' }, 404: NO_MONITOR },
    async handle(deps, request, reply) {
      const triggered = await triggerMonitor(deps.client, deps.store, nameOf(request), principalOf(request));
      return reply.code(202).send(triggered);
    },
  },
  {
    method: 'POST',
    url: '/v1/monitors/:name/backfill',
    scope: 'accounts',
    summary: 'run the times the schedule would have fired between from and to, one after another',
    body: { name: 'BackfillMonitor', schema: backfillBody, required: true },
    responses: {
      202: { description: '{name, from, to}' },
      400: error('invalid body (field)'),
      404: NO_MONITOR,
    },
    async handle(deps, request, reply) {
      const name = nameOf(request);
      const body = validate(backfillBody, request.body, 'body');
      const range = { from: new Date(body.from), to: new Date(body.to) };
      await backfillMonitor(deps.client, deps.store, name, range, principalOf(request));
      return reply.code(202).send({ name, ...body });
    },
  },
  {
    method: 'GET',
    url: '/v1/monitors/:name/runs',
    scope: 'accounts',
    summary: 'runs: batch id, scheduled time, state, counts by change status, credits',
    responses: { 200: { description: '{runs: [...]}' }, 404: NO_MONITOR },
    async handle(deps, request) {
      return { runs: await monitorRuns(deps.store, nameOf(request), principalOf(request)) };
    },
  },
  {
    method: 'GET',
    url: '/v1/monitors/:name/changes',
    scope: 'accounts',
    summary: 'one row per URL and run: url, status, diff {field: {previous, current}}, times, charged',
    query: changesQuery,
    responses: {
      200: {
        description: 'rows, streamed',
        content: { 'application/x-ndjson': 'JSON lines', 'text/csv': 'CSV' },
      },
      400: error('bad query parameter (named in field)'),
      404: NO_MONITOR,
    },
    async handle(deps, request, reply) {
      const name = nameOf(request);
      const query = validate(changesQuery, request.query, 'query');
      const statuses = parseStatuses(query.status);
      const rows = monitorChanges(deps.store, name, {
        ...(query.run ? { run: query.run } : {}),
        ...(query.since ? { since: new Date(query.since) } : {}),
        ...(statuses ? { statuses } : {}),
        ...(query.diff === 'true' ? { textDiff: true } : {}),
        principal: principalOf(request),
      });
      return streamRows(reply, rows, query.format, query.diff === 'true');
    },
  },
  {
    method: 'GET',
    url: '/v1/monitors/:name/history',
    scope: 'accounts',
    summary: "one URL's observations over time",
    query: historyQuery,
    responses: {
      200: {
        description: 'rows, streamed',
        content: { 'application/x-ndjson': 'JSON lines', 'text/csv': 'CSV' },
      },
      400: error('bad query parameter (named in field)'),
      404: NO_MONITOR,
    },
    async handle(deps, request, reply) {
      const name = nameOf(request);
      const query = validate(historyQuery, request.query, 'query');
      const rows = monitorHistory(deps.store, name, query.url, {
        ...(query.field ? { field: query.field } : {}),
        principal: principalOf(request),
      });
      return streamRows(reply, rows, query.format);
    },
  },
  {
    method: 'GET',
    url: '/v1/monitors/:name/costs',
    scope: 'accounts',
    summary: 'credits per URL (SKU) across the kept runs, or per run',
    query: costsQuery,
    responses: { 200: { description: '{costs: [{key, credits}]}' }, 404: NO_MONITOR },
    async handle(deps, request) {
      const query = validate(costsQuery, request.query, 'query');
      return {
        by: query.by,
        costs: await monitorCosts(deps.store, nameOf(request), query.by, principalOf(request)),
      };
    },
  },
];

/**
 * Streams rows, after the first is read: a missing monitor (or another account's) fails before any
 * byte is sent, so it answers 404 rather than a cut stream.
 */
async function streamRows(
  reply: FastifyReply,
  rows: AsyncIterable<ChangeRow>,
  format: 'jsonl' | 'csv',
  textDiff = false,
) {
  const iterator = rows[Symbol.asyncIterator]();
  const first = await iterator.next();
  async function* all() {
    if (first.done) return;
    yield first.value;
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) yield next.value;
  }
  void reply.type(CONTENT_TYPE[format]);
  return reply.send(Readable.from(formatChanges(all(), format, textDiff)));
}

/** The OpenAPI 3.1 document of the service (`GET /openapi.json`), generated from the zod schemas. */
import { z } from 'zod';
import { BATCH_STATES } from '../client/list.js';
import { PAUSE_REASONS } from '../workflows/types.js';
import {
  errorBodySchema,
  listQuerySchema,
  redriveBodySchema,
  resultsQuerySchema,
  resumeBodySchema,
  scrapeBodySchema,
  startBatchBodySchema,
  uploadQuerySchema,
} from './schemas.js';

const json = (schema: z.ZodType) => {
  const { $schema: _drop, ...rest } = z.toJSONSchema(schema, {
    io: 'input',
    unrepresentable: 'any',
  }) as Record<string, unknown>;
  return rest;
};

function queryParameters(schema: z.ZodObject) {
  const shape = json(schema) as { properties?: Record<string, unknown>; required?: string[] };
  return Object.entries(shape.properties ?? {}).map(([name, s]) => ({
    name,
    in: 'query',
    required: shape.required?.includes(name) ?? false,
    schema: s,
  }));
}

const errorResponse = (description: string) => ({
  description,
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
});
const batchIdParam = { name: 'batchId', in: 'path', required: true, schema: { type: 'string' } };
const commonErrors = {
  '401': errorResponse('missing or wrong bearer token'),
  '503': errorResponse('Temporal is unreachable'),
};
const progress = {
  description: 'batch progress',
  content: { 'application/json': { schema: { $ref: '#/components/schemas/BatchProgress' } } },
};
const control = (what: string, body?: { ref: string; description: string }) => ({
  post: {
    summary: what,
    parameters: [batchIdParam],
    ...(body
      ? {
          requestBody: {
            description: body.description,
            content: { 'application/json': { schema: { $ref: body.ref } } },
          },
        }
      : {}),
    responses: {
      '202': { description: 'signal sent' },
      ...(body ? { '400': errorResponse('invalid body (field)') } : {}),
      '404': errorResponse('no such batch'),
      '409': errorResponse('the batch has already ended'),
      ...commonErrors,
    },
  },
});
const exportRoute = (summary: string, withStatus: boolean) => ({
  get: {
    summary,
    parameters: [
      batchIdParam,
      ...queryParameters(withStatus ? resultsQuerySchema : resultsQuerySchema.omit({ status: true })),
    ],
    responses: {
      '200': {
        description: 'one record per URL, streamed',
        content: {
          'application/x-ndjson': { schema: { type: 'string' } },
          'text/csv': { schema: { type: 'string' } },
        },
      },
      '400': errorResponse('bad query parameter (named in field)'),
      '404': errorResponse('no such batch'),
      ...commonErrors,
    },
  },
});

export function openApiDocument(serverUrl?: string) {
  return {
    openapi: '3.1.0',
    info: {
      title: 'scrapeflow',
      version: '0.1.0',
      description:
        'Durable OmniScrape batches on Temporal. Every route needs `Authorization: Bearer <SCRAPEFLOW_API_TOKEN>`. ' +
        'Errors are `{error, message, field?, line?}`; a 400 names the offending field.',
    },
    ...(serverUrl ? { servers: [{ url: serverUrl }] } : {}),
    security: [{ bearer: [] }],
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: {
        Error: json(errorBodySchema),
        StartBatch: json(startBatchBodySchema),
        Scrape: json(scrapeBodySchema),
        Redrive: json(redriveBodySchema),
        Resume: json(resumeBodySchema.unwrap().unwrap()),
        BatchProgress: {
          type: 'object',
          description:
            `state: ${BATCH_STATES.join('|')}. failed, terminated and timed_out: the workflow closed without ` +
            'completing (failure says why). cancelled: cancelled by the cancel route, `scrapeflow cancel` or ' +
            `through Temporal (Web UI), every URL recorded. pauseReason: ${PAUSE_REASONS.join('|')} ` +
            '(outage resumes by itself once OmniScrape answers; budget waits for a resume with a higher maxCredits)',
          properties: {
            batchId: { type: 'string' },
            state: { enum: [...BATCH_STATES] },
            pauseReason: { enum: [...PAUSE_REASONS] },
            failure: {
              type: 'string',
              description: 'why the workflow failed, was terminated or timed out; unset otherwise',
            },
            total: { type: 'integer' },
            counts: {
              type: 'object',
              properties: Object.fromEntries(
                ['succeeded', 'failed', 'dead_lettered', 'in_flight', 'pending'].map((k) => [
                  k,
                  { type: 'integer' },
                ]),
              ),
            },
            credits: { type: 'number' },
            creditsByMethod: { type: 'object', additionalProperties: { type: 'number' } },
            creditsByTag: {
              type: 'object',
              additionalProperties: { type: 'number' },
              description: 'from the records: filled once the batch has ended',
            },
            maxCredits: { type: 'number', description: 'the credit cap now, when the batch has one' },
            lastBalance: { type: 'number' },
            window: { type: 'integer', description: 'URLs its pages may have in flight now' },
            concurrency: { type: 'integer' },
            priority: {
              type: 'integer',
              description: "the Temporal task priority the batch's workflow carries: 1 most urgent … 5 least",
            },
            rateLimited: { type: 'integer', description: '429 answers seen' },
            waiting: { type: 'integer', description: 'URLs waiting for a resume (401, 402, outage)' },
            pages: {
              type: 'object',
              description: 'page workflows <batchId>/p<k>: how many, how many ended, the ids running now',
              properties: {
                total: { type: 'integer' },
                done: { type: 'integer' },
                running: { type: 'array', items: { type: 'string' } },
              },
            },
            duplicates: {
              type: 'object',
              properties: { lines: { type: 'integer' }, waiting: { type: 'integer' } },
            },
            startedAt: { type: 'string', format: 'date-time' },
            endedAt: { type: 'string', format: 'date-time' },
          },
        },
      },
    },
    paths: {
      '/v1/batches': {
        post: {
          summary:
            'start a batch from a JSON body, or from an uploaded file (text/plain, text/csv, application/x-ndjson)',
          parameters: queryParameters(uploadQuerySchema),
          requestBody: {
            required: true,
            content: {
              'application/json': { schema: { $ref: '#/components/schemas/StartBatch' } },
              'text/plain': { schema: { type: 'string', description: 'one URL per line; # comments' } },
              'text/csv': { schema: { type: 'string', description: 'header row with url (and tags)' } },
              'application/x-ndjson': { schema: { type: 'string', description: '{"url", "tags"} per line' } },
            },
          },
          responses: {
            '201': { description: 'started: {batchId, total, links}' },
            '400': errorResponse('invalid body (field, and line for files)'),
            ...commonErrors,
          },
        },
        get: {
          summary: 'list batches, newest first',
          parameters: queryParameters(listQuerySchema),
          responses: { '200': { description: '{batches: [...]}' }, ...commonErrors },
        },
      },
      '/v1/batches/{batchId}': {
        get: {
          summary: 'progress of a batch',
          parameters: [batchIdParam],
          responses: { '200': progress, '404': errorResponse('no such batch'), ...commonErrors },
        },
      },
      '/v1/batches/{batchId}/costs': {
        get: {
          summary: 'credits spent by the batch: total, by method, by tag',
          parameters: [batchIdParam],
          responses: {
            '200': { description: '{batchId, state, total, byMethod, byTag, lastBalance, urlsDone}' },
            '404': errorResponse('no such batch'),
            ...commonErrors,
          },
        },
      },
      '/v1/batches/{batchId}/pause': control('pause the batch'),
      '/v1/batches/{batchId}/resume': control('resume the batch', {
        ref: '#/components/schemas/Resume',
        description: 'optional: {maxCredits} raises the credit cap (after a budget pause)',
      }),
      '/v1/batches/{batchId}/cancel': control('cancel the batch'),
      '/v1/batches/{batchId}/results': exportRoute('results, one record per URL', true),
      '/v1/batches/{batchId}/dead-letters': exportRoute('dead letters', false),
      '/v1/batches/{batchId}/redrive': {
        post: {
          summary: "re-run the batch's dead letters as a new batch",
          parameters: [batchIdParam],
          requestBody: {
            content: { 'application/json': { schema: { $ref: '#/components/schemas/Redrive' } } },
          },
          responses: {
            '201': { description: '{batchId, redrivenFrom, total}' },
            '404': errorResponse('no such batch'),
            '409': errorResponse('no dead letters left to re-drive'),
            ...commonErrors,
          },
        },
      },
      '/v1/resume-all': {
        post: {
          summary: 'resume every batch paused for OmniScrape balance (402) or auth (401)',
          responses: { '200': { description: '{resumed: [batchId...]}' }, ...commonErrors },
        },
      },
      '/v1/scrape': {
        post: {
          summary: 'scrape one URL: a one-URL batch, waited for up to waitMs',
          requestBody: {
            required: true,
            content: { 'application/json': { schema: { $ref: '#/components/schemas/Scrape' } } },
          },
          responses: {
            '200': { description: '{batchId, record, content}' },
            '202': { description: 'still running: {batchId, workflowId, poll}' },
            '400': errorResponse('invalid body (field)'),
            '401': errorResponse(
              'bad bearer token, or OmniScrape rejected the API key (error omniscrape_auth)',
            ),
            '402': errorResponse('OmniScrape balance exhausted: the batch waits paused; top up, then resume'),
            '429': errorResponse('OmniScrape rate limit persisted: reduce concurrency'),
            '409': errorResponse('the batch was cancelled before the URL ended (error cancelled)'),
            '500': errorResponse(
              "the batch's workflow failed, was terminated or timed out before the URL ended (error batch_failed, with state and message)",
            ),
            '502': errorResponse(
              'the scrape failed (success:false, dead-lettered) or another upstream failure',
            ),
            '504': errorResponse('the render did not finish within its budget'),
          },
        },
      },
      '/metrics': {
        get: {
          summary: 'Prometheus metrics of the service process',
          responses: { '200': { description: 'Prometheus text exposition' }, ...commonErrors },
        },
      },
      '/openapi.json': {
        get: { summary: 'this document', responses: { '200': { description: 'OpenAPI 3.1' } } },
      },
      '/healthz': { get: { summary: 'liveness', responses: { '200': { description: '{ok: true}' } } } },
    },
  };
}

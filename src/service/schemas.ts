/**
 * What the HTTP service accepts, as zod schemas: request bodies and query strings are validated here
 * and a failure answers 400 naming the field. The OpenAPI document is generated from the same schemas.
 */
import { z } from 'zod';
import { batchOptionsSchema } from '../batch/options.js';
import { stepsSchema } from '../batch/steps.js';
import { INPUT_FORMATS } from '../client/input-format.js';
import { BATCH_STATES } from '../batch/progress.js';
import { RESULT_FORMATS } from '../client/results.js';
import { httpUrl } from '../omniscrape/types.js';
import {
  BATCH_ID_PATTERN,
  MAX_BATCH_ID_LENGTH,
  TERMINAL_STATUSES,
  USER_BATCH_ID_PATTERN,
} from '../store/types.js';
import { DELIVERY_STATUSES } from '../webhooks/types.js';

/** Longest wait of a single-URL scrape, ms. */
export const MAX_SCRAPE_WAIT_MS = 60_000;

const ID_RULE = `must be 1 to ${MAX_BATCH_ID_LENGTH} letters, digits, . _ - (starting with a letter or digit)`;
/** A batch id a start may take (a monitor run's `<name>@<time>` is not one). */
const newBatchId = z.string().regex(USER_BATCH_ID_PATTERN, ID_RULE);
/** Any batch's id, a monitor run's included. */
const batchId = z.string().regex(BATCH_ID_PATTERN, `${ID_RULE}, or a monitor run's <name>@<time>`);

export const urlEntrySchema = z.union([
  httpUrl,
  z
    .object({
      url: httpUrl,
      tags: z.array(z.string().min(1).max(100)).max(50).optional(),
      steps: stepsSchema.optional().describe("browser steps for this URL alone, over the batch's steps"),
    })
    .strict(),
]);

export const startBatchBodySchema = z
  .object({
    batchId: newBatchId.optional().describe('batch id; generated when absent'),
    urls: z
      .array(urlEntrySchema)
      .min(1, 'must hold at least one URL')
      .describe('URLs, as strings or {url, tags, steps}; for large inputs upload a file instead'),
    options: batchOptionsSchema.optional(),
  })
  .strict();

/** Query string of an uploaded-file start (`Content-Type: text/plain | text/csv | application/x-ndjson`). */
export const uploadQuerySchema = z
  .object({
    batchId: newBatchId.optional(),
    format: z.enum(INPUT_FORMATS).optional().describe('default from the content type'),
    skipInvalid: z
      .enum(['true', 'false'])
      .optional()
      .describe('skip invalid lines instead of rejecting the file'),
    options: z.string().optional().describe('batch options as a JSON object (URL-encoded)'),
  })
  .strict();

export const scrapeBodySchema = z
  .object({
    url: httpUrl,
    options: batchOptionsSchema.optional(),
    waitMs: z
      .number()
      .int()
      .min(0)
      .max(MAX_SCRAPE_WAIT_MS)
      .default(25_000)
      .describe('how long to wait for the result before answering 202, ms'),
  })
  .strict();

export const redriveBodySchema = z
  .object({
    batchId: newBatchId.optional().describe('id of the new batch'),
    options: z.record(z.string(), z.unknown()).optional().describe("batch options over the original batch's"),
  })
  .strict();

export const resultsQuerySchema = z
  .object({
    format: z.enum(RESULT_FORMATS).default('jsonl'),
    status: z.enum(TERMINAL_STATUSES).optional(),
    tag: z.string().min(1).optional(),
  })
  .strict();

export const listQuerySchema = z
  .object({
    status: z.enum(BATCH_STATES).optional(),
    limit: z.coerce.number().int().min(1).max(1000).default(100),
  })
  .strict();

export const batchParamsSchema = z.object({ batchId });

/** `POST /v1/batches/{id}/resume`: optionally a new credit cap (after a `budget` pause). */
export const resumeBodySchema = z
  .object({ maxCredits: z.number().int().min(0).optional() })
  .strict()
  .nullish();

export const errorBodySchema = z.object({
  error: z.string().describe('stable error code'),
  message: z.string(),
  field: z.string().optional().describe('the offending field, as a dotted path'),
  line: z.number().int().optional().describe('the offending line of an uploaded file'),
});

const endpointId = z
  .string()
  .regex(/^ep_[0-9a-f]{16}$/, 'must be a webhook endpoint id (ep_ and 16 hex digits)');

export const webhookParamsSchema = z.object({ webhookId: endpointId });
export const eventParamsSchema = z.object({ eventId: z.string().min(1).max(300) });

export const addWebhookBodySchema = z
  .object({
    url: z.string().min(1).max(2000).describe('https URL of the receiver (http only with allowHttp)'),
    events: z
      .array(z.string().min(1).max(100))
      .max(50)
      .optional()
      .describe('event types or patterns such as batch.*; absent: every event'),
    account: z
      .string()
      .min(1)
      .optional()
      .describe(
        "the account whose events it receives; absent: the token's one account (admin: every account)",
      ),
    description: z.string().max(500).optional(),
    allowHttp: z.boolean().optional().describe('allow an http URL'),
  })
  .strict();

export const patchWebhookBodySchema = z
  .object({ enabled: z.boolean().describe('false pauses deliveries (they wait), true resumes them') })
  .strict();

export const rotateSecretBodySchema = z
  .object({
    graceSeconds: z
      .number()
      .int()
      .min(0)
      .max(30 * 86_400)
      .optional()
      .describe('how long the old secret still signs, s; default 86400'),
  })
  .strict()
  .nullish();

export const deliveriesQuerySchema = z
  .object({
    endpoint: endpointId.optional(),
    event: z.string().min(1).max(300).optional(),
    status: z.enum(DELIVERY_STATUSES).optional(),
    limit: z.coerce.number().int().min(1).max(1000).default(100),
  })
  .strict();

export const redeliverBodySchema = z
  .object({
    endpoint: endpointId.optional().describe('only to this endpoint; default: every one it went to'),
  })
  .strict()
  .nullish();

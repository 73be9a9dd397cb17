/**
 * The OmniScrape API contract: request and response shapes for `POST /v1/scrape`,
 * `POST /v1/scrape/async` and `GET /v1/scrape/async/{job_id}`.
 *
 * The schemas are the single source of truth: the client validates responses with them, the local API
 * validates requests with them, and batch options reuse them.
 */
import { z } from 'zod';

export const SCRAPE_MODES = ['auto', 'fast', 'js_rendering'] as const;
export const OUTPUT_FORMATS = ['html', 'css_extractor'] as const;
export type ScrapeMode = (typeof SCRAPE_MODES)[number];
export type MethodUsed = 'fast' | 'js_rendering';

/** Only http(s) URLs are scrapeable. */
/** The longest URL a batch takes, in characters. */
export const MAX_URL_LENGTH = 8192;

export const httpUrl = z
  .string({ error: 'must be a string' })
  .max(MAX_URL_LENGTH, `is longer than ${MAX_URL_LENGTH} characters`)
  .refine((value) => {
    try {
      const url = new URL(value);
      return url.protocol === 'http:' || url.protocol === 'https:';
    } catch {
      return false;
    }
  }, 'must be an absolute http(s) URL');

/** Selector name → CSS selector. Names are the keys of `css_extracted` in the response. */
export const cssSelectorsSchema = z.record(
  z.string().min(1, 'selector names must not be empty').max(200),
  z.string().min(1, 'must not be empty').max(2000),
);

export const scrapeRequestSchema = z
  .object({
    url: httpUrl,
    mode: z.enum(SCRAPE_MODES).default('auto'),
    output_format: z.enum(OUTPUT_FORMATS).default('html'),
    css_selectors: cssSelectorsSchema.optional(),
    enable_solver: z.boolean().default(false),
    /** Rendering waits for this selector before the page is captured. */
    js_wait_selector: z.string().min(1).max(2000).optional(),
    /** How long rendering waits for `js_wait_selector`, in milliseconds. @default 30000 */
    js_wait_timeout: z.number().int().min(0).max(300_000).optional(),
  })
  .strict()
  .superRefine((req, ctx) => {
    if (req.output_format === 'css_extractor' && !req.css_selectors) {
      ctx.addIssue({
        code: 'custom',
        path: ['css_selectors'],
        message: 'is required when output_format is css_extractor',
      });
    }
  });

/** What a caller passes in (defaults not yet applied). */
export type ScrapeRequestInput = z.input<typeof scrapeRequestSchema>;
/** A request after validation, with defaults applied. */
export type ScrapeRequest = z.output<typeof scrapeRequestSchema>;

export const scrapeResponseSchema = z.object({
  success: z.boolean(),
  data: z
    .object({
      content: z.string().nullable().optional(),
      css_extracted: z.record(z.string(), z.string().nullable()).nullable().optional(),
    })
    .nullable()
    .optional(),
  metadata: z
    .object({
      method_used: z.enum(['fast', 'js_rendering']).nullable().optional(),
      solver_used: z.boolean().optional(),
      challenge_solved: z.boolean().optional(),
      /** HTTP status the target answered with, when known. */
      target_status: z.number().int().nullable().optional(),
    })
    .passthrough()
    .nullable()
    .optional(),
  billing: z
    .object({
      charged: z.number(),
      balance_after: z.number(),
    })
    .nullable()
    .optional(),
  /** Why the scrape failed, when `success` is false. */
  error: z.string().nullable().optional(),
});
export type ScrapeResponse = z.infer<typeof scrapeResponseSchema>;

export const ASYNC_JOB_STATUSES = ['queued', 'running', 'complete', 'failed'] as const;
export type AsyncJobStatus = (typeof ASYNC_JOB_STATUSES)[number];

export const asyncSubmitResponseSchema = z.object({
  job_id: z.string().min(1),
  status: z.enum(ASYNC_JOB_STATUSES),
});
export type AsyncSubmitResponse = z.infer<typeof asyncSubmitResponseSchema>;

/** A job's status; once `complete` or `failed` it carries the sync response's fields too. */
export const asyncJobResponseSchema = scrapeResponseSchema.partial({ success: true }).extend({
  job_id: z.string().min(1),
  status: z.enum(ASYNC_JOB_STATUSES),
});
export type AsyncJobResponse = z.infer<typeof asyncJobResponseSchema>;

/** Error body the API answers with on 4xx/5xx. */
export const apiErrorBodySchema = z
  .object({
    error: z.string().optional(),
    message: z.string().optional(),
    field: z.string().optional(),
  })
  .passthrough();
export type ApiErrorBody = z.infer<typeof apiErrorBodySchema>;

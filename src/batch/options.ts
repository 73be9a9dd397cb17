/**
 * Validation of batch options at the boundary (CLI flags, HTTP bodies, scripts). Errors name the field.
 */
import { z } from 'zod';
import { DEFAULT_RETRY_MATRIX } from '../omniscrape/retry-matrix.js';
import { OUTPUT_FORMATS, SCRAPE_MODES, cssSelectorsSchema } from '../omniscrape/types.js';
import { selectorError } from '../local-api/extract.js';
import { stepsSchema } from './steps.js';
import { DEFAULT_PERMIT_WAIT_MS, type BatchOptions } from '../workflows/types.js';
import { DEFAULT_PRIORITY, HIGHEST_PRIORITY, LOWEST_PRIORITY } from '../workflows/priority.js';
import { ValidationError } from '../errors.js';

const ms = (max: number) => z.number().int().min(0).max(max);

export const batchOptionsSchema = z
  .object({
    mode: z.enum(SCRAPE_MODES).default('auto'),
    outputFormat: z.enum(OUTPUT_FORMATS).default('html'),
    cssSelectors: cssSelectorsSchema.optional(),
    enableSolver: z.boolean().default(false),
    jsWaitSelector: z.string().min(1).max(2000).optional(),
    jsWaitTimeoutMs: ms(300_000).optional(),
    asyncFlow: z.enum(['on_timeout', 'js_rendering', 'always']).default('js_rendering'),
    concurrency: z
      .number()
      .int()
      .min(1)
      .max(1000)
      .optional()
      .describe(
        "URLs of the batch in flight at once, waiting for a plan permit included (default: twice the plan's " +
          'concurrency, so the plan stays busy while each URL turns over)',
      ),
    pageSize: z.number().int().min(1).max(5000).default(500).describe('input lines per page workflow'),
    pagesInFlight: z
      .number()
      .int()
      .min(1)
      .max(100)
      .default(4)
      .describe('page workflows in flight at once, sharing concurrency (1 when maxCredits is set)'),
    maxCredits: z
      .number()
      .min(0)
      .optional()
      .describe('credit cap: the batch pauses (reason budget) before a call could take it over'),
    adaptive: z.boolean().default(true),
    tags: z.array(z.string().min(1).max(100)).max(50).default([]),
    account: z.string().min(1).max(100).default('default'),
    priority: z
      .number()
      .int()
      .min(HIGHEST_PRIORITY)
      .max(LOWEST_PRIORITY)
      .default(DEFAULT_PRIORITY)
      .describe(
        "Temporal task priority of all the batch's work: 1 most urgent … 5 least; 3 is the default. " +
          'Backlogged tasks of a lower number are handed to workers first',
      ),
    schema: z
      .record(
        z.string().min(1),
        z
          .object({ type: z.enum(['string', 'number', 'integer']), required: z.boolean().default(true) })
          .strict(),
      )
      .optional(),
    searchableUrls: z.boolean().optional(),
    storeId: z.string().min(1).optional(),
    pauseBelowBalance: z.number().min(0).optional(),
    retry: z
      .object({
        rateLimitBaseMs: ms(600_000),
        rateLimitFactor: z.number().min(1).max(10),
        rateLimitCapMs: ms(3_600_000),
        rateLimitJitter: z.number().min(0).max(1),
        rateLimitMaxTries: z.number().int().min(1).max(50),
        upstreamRetries: z.number().int().min(0).max(20),
        upstreamDelayMs: ms(600_000),
        timeoutRetries: z.number().int().min(0).max(10),
        timeoutDelayMs: ms(600_000),
      })
      .strict()
      .partial()
      .default({})
      .transform((r) => ({ ...DEFAULT_RETRY_MATRIX, ...r })),
    polling: z
      .object({
        initialMs: ms(600_000),
        factor: z.number().min(1).max(10),
        maxMs: ms(600_000),
        budgetMs: ms(86_400_000),
      })
      .strict()
      .partial()
      .default({})
      .transform((p) => ({ initialMs: 2000, factor: 1.5, maxMs: 10_000, budgetMs: 120_000, ...p })),
    timeouts: z
      .object({
        scrapeMs: ms(3_600_000).min(1000),
        heartbeatMs: ms(600_000).min(1000),
        browserMs: ms(3_600_000).min(1000),
        permitWaitMs: ms(3_600_000).min(1000),
      })
      .strict()
      .partial()
      .default({})
      .transform((t) => ({
        scrapeMs: 150_000,
        heartbeatMs: 15_000,
        browserMs: 300_000,
        permitWaitMs: DEFAULT_PERMIT_WAIT_MS,
        ...t,
      })),
    steps: stepsSchema.optional(),
    dedupe: z.boolean().default(true),
  })
  .strict()
  .superRefine((o, ctx) => {
    if (o.outputFormat === 'css_extractor' && !o.cssSelectors) {
      ctx.addIssue({
        code: 'custom',
        path: ['cssSelectors'],
        message: 'is required when outputFormat is css_extractor',
      });
    }
    // Selector syntax is checked here with the engine OmniScrape's extraction uses (cheerio / css-select),
    // so a typo fails the batch at start, naming the field, instead of failing every URL.
    for (const [name, selector] of Object.entries(o.cssSelectors ?? {})) {
      const problem = selectorError(selector);
      if (problem) ctx.addIssue({ code: 'custom', path: ['cssSelectors', name], message: problem });
    }
    if (o.schema && o.outputFormat !== 'css_extractor') {
      ctx.addIssue({
        code: 'custom',
        path: ['schema'],
        message: 'needs outputFormat css_extractor (it checks extracted fields)',
      });
    }
    for (const name of Object.keys(o.schema ?? {})) {
      if (!o.cssSelectors?.[name]) {
        ctx.addIssue({
          code: 'custom',
          path: ['schema', name],
          message: 'names no selector in cssSelectors',
        });
      }
    }
    if (o.jsWaitSelector && o.mode === 'fast') {
      ctx.addIssue({ code: 'custom', path: ['jsWaitSelector'], message: 'has no effect with mode fast' });
    }
  });

export type BatchOptionsInput = z.input<typeof batchOptionsSchema>;

/** A zod path as a field name: `retry.upstreamRetries`, `steps[2].selector`. */
export function formatPath(path: readonly PropertyKey[], prefix = ''): string {
  return path.reduce<string>(
    (out, key) => (typeof key === 'number' ? `${out}[${key}]` : out ? `${out}.${String(key)}` : String(key)),
    prefix,
  );
}

/**
 * Issues with each failed union (`string | {url, steps?}`) replaced by the issues of the one option the
 * input's type matched, so a message names the field inside it (`urls[1].steps[0].selector`) instead
 * of the union's "Invalid input". Unions that no option, or several, matched stay as they are.
 */
export function unionIssues(issues: readonly z.core.$ZodIssue[]): z.core.$ZodIssue[] {
  return issues.flatMap((issue) => {
    if (issue.code !== 'invalid_union') return [issue];
    const typeMismatch = (i: z.core.$ZodIssue) => i.code === 'invalid_type' && i.path.length === 0;
    const matched = issue.errors.filter((option) => !option.every(typeMismatch));
    if (matched.length !== 1 || !matched[0]) return [issue];
    return unionIssues(matched[0].map((i) => ({ ...i, path: [...issue.path, ...i.path] })));
  });
}

/** Formats zod issues as `field: message; ...`, prefixed by where the input came from. */
export function describeIssues(issues: readonly z.core.$ZodIssue[], prefix = ''): string {
  return unionIssues(issues)
    .map((i) => `${formatPath(i.path, prefix) || '(root)'}: ${i.message}`)
    .join('; ');
}

/** The default `concurrency` per unit of the plan: headroom to keep the plan busy while URLs turn over. */
export const WINDOW_PER_PLAN = 2;
/** The plan's concurrency assumed where a caller does not know it (OMNISCRAPE_PLAN_CONCURRENCY's default). */
export const DEFAULT_PLAN = 5;

/**
 * Validates batch options and fills their defaults. `plan` is the account's plan concurrency as the
 * caller knows it (OMNISCRAPE_PLAN_CONCURRENCY): an unset `concurrency` becomes `WINDOW_PER_PLAN` × it.
 * Each URL spends part of its time in the window outside its OmniScrape call (scheduling, the record,
 * the workflow task that starts the next URL); the URLs beyond the plan wait for a permit meanwhile, so
 * a permit is taken again the moment it is given back.
 */
export function parseBatchOptions(input: unknown, context: { plan?: number } = {}): BatchOptions {
  const parsed = batchOptionsSchema.safeParse(input ?? {});
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw new ValidationError(
      `invalid batch options: ${describeIssues(parsed.error.issues)}`,
      first ? formatPath(first.path) : '',
    );
  }
  const { concurrency, ...rest } = parsed.data;
  return { ...rest, concurrency: concurrency ?? WINDOW_PER_PLAN * (context.plan ?? DEFAULT_PLAN) };
}

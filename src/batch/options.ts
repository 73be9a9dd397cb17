/**
 * Batch options: their schema is the one declaration of each option, its default and its meaning
 * (`.describe()`, which the service's OpenAPI document shows); the types derive from it. A default that
 * code outside the schema reads too is a named constant the schema uses, in the zod-free
 * src/batch/defaults.ts (the workflows read it); the error matrix's are in its own schema
 * (`retryMatrixSchema`). Validation at the boundary (CLI flags, HTTP bodies, scripts) names the field.
 */
import { z } from 'zod';
import { retryMatrixSchema } from '../omniscrape/retry-matrix.js';
import { OUTPUT_FORMATS, SCRAPE_MODES, cssSelectorsSchema } from '../omniscrape/types.js';
import { fieldRuleSchema } from './field-schema.js';
import { selectorError } from './selectors.js';
import { stepsSchema } from './steps.js';
import {
  ACCOUNT_LABEL_PATTERN,
  ACCOUNT_LABEL_RULE,
  DEFAULT_PERMIT_WAIT_MS,
  DEFAULT_PLAN,
  DEFAULT_PRIORITY,
  HIGHEST_PRIORITY,
  LOWEST_PRIORITY,
  WINDOW_PER_PLAN,
} from './defaults.js';
import { ValidationError } from '../errors.js';

const ms = (max: number) => z.number().int().min(0).max(max);

/**
 * Caps on what one batch's options may hold: the options travel with the batch's work, so their size
 * is bounded up front (a 400 naming the field) instead of being copied as megabytes. The step count
 * (`MAX_STEPS`) and the lengths of single strings are capped where those fields are declared.
 */
export const OPTION_LIMITS = {
  /** Entries of `cssSelectors`. */
  selectors: 100,
  /** Fields of `schema`. */
  schemaFields: 100,
  /** Tags of the batch, and of one input line. */
  tags: 50,
  /** The whole options object as JSON, bytes. */
  bytes: 64 * 1024,
} as const;

/** The path of the first own `__proto__` key in `value` (zod drops such keys silently), or undefined. */
export function protoKeyPath(value: unknown, path: readonly PropertyKey[] = []): PropertyKey[] | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  if (!Array.isArray(value) && Object.hasOwn(value, '__proto__')) return [...path, '__proto__'];
  for (const [key, item] of Object.entries(value)) {
    const found = protoKeyPath(item, [...path, Array.isArray(value) ? Number(key) : key]);
    if (found) return found;
  }
  return undefined;
}

/** A record's refinement: at most `max` entries. */
const countAtMost = (max: number, what: string) =>
  [(record: object) => Object.keys(record).length <= max, `has more than ${max} ${what}`] as const;

export const batchOptionsSchema = z
  .object({
    mode: z.enum(SCRAPE_MODES).default('auto'),
    outputFormat: z.enum(OUTPUT_FORMATS).default('html'),
    cssSelectors: cssSelectorsSchema
      .refine(...countAtMost(OPTION_LIMITS.selectors, 'selectors'))
      .optional()
      .describe('selector name → CSS selector, or `css@attr` for an attribute of the first match'),
    enableSolver: z.boolean().default(false),
    jsWaitSelector: z.string().min(1).max(2000).optional(),
    jsWaitTimeoutMs: ms(300_000).optional(),
    asyncFlow: z
      .enum(['on_timeout', 'js_rendering', 'always'])
      .default('js_rendering')
      .describe(
        'when URLs use the async job flow: only after two timeouts, also for every js_rendering URL, ' +
          'or always',
      ),
    concurrency: z
      .number()
      .int()
      .min(1)
      .max(1000)
      .optional()
      .describe(
        'URLs of the batch in flight at once across its pages, waiting for a plan permit included: the ' +
          "plan, not this, bounds the account's calls at OmniScrape (default: twice the plan's concurrency, " +
          'so the plan stays busy while each URL turns over)',
      ),
    pageSize: z.number().int().min(1).max(5000).default(500).describe('input lines per page workflow'),
    pagesInFlight: z
      .number()
      .int()
      .min(1)
      .max(100)
      .default(4)
      .describe(
        'page workflows in flight at once, sharing concurrency; a batch with maxCredits runs one at a ' +
          'time, so the whole budget is known to the page that spends it',
      ),
    maxCredits: z
      .number()
      .min(0)
      .optional()
      .describe(
        'credit cap: the batch pauses (reason budget) before a call could take it over (each call in ' +
          'flight holds the highest price its method can cost); unset: no cap',
      ),
    adaptive: z
      .boolean()
      .default(true)
      .describe('shrink the window on sustained 429s and grow it back (AIMD)'),
    tags: z
      .array(z.string().min(1).max(100))
      .max(OPTION_LIMITS.tags)
      .default([])
      .describe('cost-attribution tags for every URL of the batch'),
    account: z
      .string()
      .regex(ACCOUNT_LABEL_PATTERN, ACCOUNT_LABEL_RULE)
      .default('default')
      .describe(
        'the OmniScrape account label the batch spends from (never the key): account-wide pauses, and ' +
          "the Temporal fairness key of the batch's tasks, so accounts take turns on shared task queues",
      ),
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
      .record(z.string().min(1).max(200), fieldRuleSchema)
      .refine(...countAtMost(OPTION_LIMITS.schemaFields, 'fields'))
      .optional()
      .describe('rules the extracted fields must meet before a record is stored (needs css_extractor)'),
    searchableUrls: z
      .boolean()
      .optional()
      .describe(
        "show each URL as its activities' summary in the Web UI (default: true; turned off when " +
          'payloads are encrypted, as that metadata is not)',
      ),
    storeId: z
      .string()
      .min(1)
      .max(1000)
      .optional()
      .describe(
        "the store the batch's input went to (set when the batch starts); workers with another store " +
          'refuse it',
      ),
    pauseBelowBalance: z
      .number()
      .min(0)
      .optional()
      .describe('pause the whole account when a reported balance falls below this, before a 402 happens'),
    retry: retryMatrixSchema
      .prefault({})
      .describe(
        'delays and budgets of the error matrix (429 backoff, retries after 5xx and timeouts); unset ' +
          'fields keep their defaults',
      ),
    polling: z
      .object({
        initialMs: ms(600_000).default(2000).describe('first wait before polling an async job, ms'),
        factor: z.number().min(1).max(10).default(1.5).describe('growth of the wait per poll'),
        maxMs: ms(600_000).default(10_000).describe('longest wait between polls, ms'),
        budgetMs: ms(86_400_000)
          .default(120_000)
          .describe('total wait before the URL fails as render_timeout, ms'),
      })
      .strict()
      .prefault({})
      .describe('how the page workflow polls an async job'),
    timeouts: z
      .object({
        scrapeMs: ms(3_600_000)
          .min(1000)
          .default(150_000)
          .describe("one HTTP call (the HTTP client's own timeout is a little shorter)"),
        heartbeatMs: ms(600_000)
          .min(1000)
          .default(15_000)
          .describe("how soon a dead worker's call is noticed"),
        browserMs: ms(3_600_000)
          .min(1000)
          .default(300_000)
          .describe('one browser (BaaS) session with its steps, which takes longer than a call'),
        permitWaitMs: ms(3_600_000)
          .min(1000)
          .default(DEFAULT_PERMIT_WAIT_MS)
          .describe(
            'how long a call may wait for a plan permit of its account (a browser session for a ' +
              "session permit) before its URL goes back to the page's queue; a scrape activity's " +
              "timeout is scrapeMs plus this (a browser session's browserMs plus this), so the wait " +
              'never shortens the call',
          ),
      })
      .strict()
      .prefault({})
      .describe('activity timeouts, ms'),
    steps: stepsSchema
      .optional()
      .describe(
        'page interactions: when set, every URL of the batch runs in a browser (BaaS) session instead of the ' +
          "scrape API; an input item's own steps replace them for that URL",
      ),
    dedupe: z
      .boolean()
      .default(true)
      .describe(
        'scrape a URL that appears on several lines of the input once (its first line); every later ' +
          'line gets a record pointing at the first, charged 0',
      ),
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
    // A typo fails the batch at start, naming the field, instead of failing every URL.
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
      if (!o.cssSelectors || !Object.hasOwn(o.cssSelectors, name)) {
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

/** Batch options as `parseBatchOptions` validated them, every default filled but `concurrency`'s. */
type ParsedBatchOptions = z.output<typeof batchOptionsSchema>;

/**
 * Per-batch options as the workflows and activities receive them: what `parseBatchOptions` returns,
 * plus `idempotencyScope`. Options stored by batches that predate `priority` and
 * `timeouts.permitWaitMs` lack them, hence optional here: read them with `taskPriority` and
 * `permitWaitOf`.
 */
export type BatchOptions = Omit<ParsedBatchOptions, 'concurrency' | 'priority' | 'timeouts'> & {
  concurrency: number;
  priority?: number;
  timeouts: Omit<ParsedBatchOptions['timeouts'], 'permitWaitMs'> & { permitWaitMs?: number };
  /**
   * Random per start (set by `startBatch`, never by the user; not a secret): the URLs' OmniScrape
   * idempotency keys are built from it, so two batches' keys never collide, whatever their ids and
   * whichever namespace or deployment started them.
   */
  idempotencyScope?: string;
};

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

/** Refuses options over `OPTION_LIMITS.bytes` as JSON, or holding a `__proto__` key, naming the field. */
function checkOptionsSize(input: unknown): void {
  const proto = protoKeyPath(input);
  if (proto)
    throw new ValidationError(
      `invalid batch options: ${formatPath(proto)}: "__proto__" is a reserved name; choose another`,
      formatPath(proto),
    );
  const bytes = new TextEncoder().encode(JSON.stringify(input ?? {})).length;
  if (bytes > OPTION_LIMITS.bytes)
    throw new ValidationError(
      `invalid batch options: ${bytes} bytes as JSON, over the ${OPTION_LIMITS.bytes} a batch's options may hold`,
      '',
    );
}

/**
 * Validates batch options and fills their defaults. `plan` is the account's plan concurrency as the
 * caller knows it (OMNISCRAPE_PLAN_CONCURRENCY): an unset `concurrency` becomes `WINDOW_PER_PLAN` × it.
 * Each URL spends part of its time in the window outside its OmniScrape call (scheduling, the record,
 * the workflow task that starts the next URL); the URLs beyond the plan wait for a permit meanwhile, so
 * a permit is taken again the moment it is given back.
 */
export function parseBatchOptions(input: unknown, context: { plan?: number } = {}): BatchOptions {
  checkOptionsSize(input);
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

/**
 * Page interactions as data: the `steps` of a batch's options, run in a browser (BaaS) session on the
 * `browser` task queue for every URL of the batch, or the `steps` of one input item (`UrlItem.steps`,
 * which replace the batch's for that URL: `stepsOf` in src/workflows/types.ts). Validated with the other
 * batch options when the batch starts, or as the input is read; errors name the step and the field
 * (`steps[2].selector: is required`, `line 3: steps[2].selector: is required`).
 *
 * Each step is an object with an `action`:
 * | action | fields | what it does |
 * | --- | --- | --- |
 * | `goto` | `url?`, `timeoutMs?` | navigates (`domcontentloaded`) to `url`, default the batch URL |
 * | `click` | `selector`, `timeoutMs?` | clicks the first match once it is actionable |
 * | `fill` | `selector`, `value`, `timeoutMs?` | types `value` into an input |
 * | `select` | `selector`, `value`, `timeoutMs?` | chooses the `<option>` whose value (or label) is `value` |
 * | `waitFor` | `selector`, `state?`, `timeoutMs?` | waits until the selector is `visible` (default), `attached`, `hidden` or `detached` |
 * | `scroll` | `until`, `maxScrolls?`, `settleMs?` | scrolls to the bottom until `until` holds (see below) |
 * | `wait` | `ms` | waits a fixed time, at most 30 s |
 * | `extract` | `fields`, `all?` | reads named selectors into the record's `fields` |
 * | `screenshot` | `name`, `fullPage?` | stores a PNG of the page (see below) |
 *
 * - The page is opened at the batch URL before the steps run, unless the first step is a `goto`.
 * - `selector` of `click`/`fill`/`select`/`waitFor` is a Playwright selector (CSS, or `text=...` and the
 *   other engines). `scroll` and `extract` take plain CSS, evaluated in the page.
 * - `scroll.until` is `{ selector }` (a CSS selector that matches an element, attached — hidden or not,
 *   so write `#end:not([hidden])`), `{ count: { selector, min } }` (at least `min` matches), or both
 *   (both must hold). After each scroll the page gets up to `settleMs` (default 2000) to grow; the step
 *   fails when `until` does not hold after `maxScrolls` scrolls (default 50).
 * - `extract.fields` maps a name to `css` or `css@attr`, like `css_extractor`: the first match's text
 *   (whitespace collapsed, trimmed) or attribute, `null` when nothing matches. With `all: true` a field
 *   is every match's value as a JSON array string (`'["Item 1","Item 2"]'`, `'[]'` when none), so
 *   records keep `fields: Record<string, string | null>`. Later extractions overwrite earlier names.
 * - `screenshot` stores the PNG, base64-encoded, through the result store's `putContent` under the batch
 *   id `<batchId>.shot-<name>` (same index); the record's field `screenshot:<name>` holds that content
 *   reference. The store holds text, one body per (batch, index), hence the derived id. `name` is
 *   `[a-z0-9_-]{1,32}`, and the batch id plus `.shot-<name>` must stay within 128 characters.
 * - `timeoutMs` of a step is at most 120000 and defaults to 30000.
 */
import { z } from 'zod';
import { httpUrl } from '../omniscrape/types.js';

/** Longest `wait` step, in ms. */
export const MAX_WAIT_MS = 30_000;
/** Longest timeout of one step, in ms. */
export const MAX_STEP_TIMEOUT_MS = 120_000;
/** Timeout of a step that does not set one, in ms. */
export const DEFAULT_STEP_TIMEOUT_MS = 30_000;
/** Scrolls a `scroll` step makes at most when it does not say. */
export const DEFAULT_MAX_SCROLLS = 50;
/** How long a `scroll` step lets the page grow after each scroll, in ms. */
export const DEFAULT_SCROLL_SETTLE_MS = 2000;
export const MAX_STEPS = 100;
/** Fields one `extract` step reads at most (as `cssSelectors` holds at most 100 selectors). */
export const MAX_EXTRACT_FIELDS = 100;

const required = (what: string) =>
  z
    .string({ error: (i) => (i.input === undefined ? 'is required' : `must be ${what}`) })
    .min(1, 'must not be empty');
const selector = required('a selector string').max(2000);
const timeoutMs = z.number().int().min(1).max(MAX_STEP_TIMEOUT_MS).optional();

const gotoStep = z
  .object({
    action: z.literal('goto'),
    url: httpUrl.optional(),
    timeoutMs,
  })
  .strict();
const clickStep = z.object({ action: z.literal('click'), selector, timeoutMs }).strict();
const fillStep = z
  .object({
    action: z.literal('fill'),
    selector,
    value: z.string({ error: 'is required' }).max(10_000),
    timeoutMs,
  })
  .strict();
const selectStep = z
  .object({
    action: z.literal('select'),
    selector,
    value: z.string({ error: 'is required' }).max(1000),
    timeoutMs,
  })
  .strict();
const waitForStep = z
  .object({
    action: z.literal('waitFor'),
    selector,
    state: z.enum(['attached', 'detached', 'visible', 'hidden']).default('visible'),
    timeoutMs,
  })
  .strict();
const scrollStep = z
  .object({
    action: z.literal('scroll'),
    until: z
      .object(
        {
          selector: selector.optional(),
          count: z
            .object({ selector, min: z.number({ error: 'is required' }).int().min(1).max(100_000) })
            .strict()
            .optional(),
        },
        { error: 'is required' },
      )
      .strict()
      .refine((u) => u.selector !== undefined || u.count !== undefined, 'needs selector or count'),
    maxScrolls: z.number().int().min(1).max(1000).default(DEFAULT_MAX_SCROLLS),
    settleMs: z.number().int().min(0).max(MAX_STEP_TIMEOUT_MS).default(DEFAULT_SCROLL_SETTLE_MS),
  })
  .strict();
const waitStep = z
  .object({
    action: z.literal('wait'),
    ms: z.number({ error: 'is required' }).int().min(0).max(MAX_WAIT_MS, `must be at most ${MAX_WAIT_MS}`),
  })
  .strict();
const extractStep = z
  .object({
    action: z.literal('extract'),
    fields: z
      .record(z.string().min(1, 'field names must not be empty').max(200), selector, { error: 'is required' })
      .refine((f) => Object.keys(f).length > 0, 'needs at least one field')
      .refine(
        (f) => Object.keys(f).length <= MAX_EXTRACT_FIELDS,
        `has more than ${MAX_EXTRACT_FIELDS} fields`,
      ),
    all: z.boolean().default(false),
  })
  .strict();
const screenshotStep = z
  .object({
    action: z.literal('screenshot'),
    name: required('a name').regex(/^[a-z0-9_-]{1,32}$/, 'must match [a-z0-9_-]{1,32}'),
    fullPage: z.boolean().default(false),
  })
  .strict();

const ACTIONS = [
  'goto',
  'click',
  'fill',
  'select',
  'waitFor',
  'scroll',
  'wait',
  'extract',
  'screenshot',
] as const;

export const stepSchema = z.discriminatedUnion(
  'action',
  [gotoStep, clickStep, fillStep, selectStep, waitForStep, scrollStep, waitStep, extractStep, screenshotStep],
  { error: `must be one of ${ACTIONS.join(', ')}` },
);

export const stepsSchema = z
  .array(stepSchema)
  .min(1, 'needs at least one step')
  .max(MAX_STEPS, `has more than ${MAX_STEPS} steps`);

export type Step = z.output<typeof stepSchema>;
export type StepInput = z.input<typeof stepSchema>;

/** The content batch id a screenshot is stored under (see the module doc). */
export const screenshotBatchId = (batchId: string, name: string): string => `${batchId}.shot-${name}`;

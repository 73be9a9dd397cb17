/**
 * Runs a URL's steps (src/batch/steps.ts) on a Playwright page. Throws Playwright's errors as they are
 * (`name` `TimeoutError` for waits); the activity maps them into the taxonomy.
 */
import type { Page } from 'playwright';
import { parseSelector } from '../batch/selectors.js';
import { DEFAULT_STEP_TIMEOUT_MS, type Step } from '../batch/steps.js';

export interface StepHooks {
  /** Called before each step (the activity heartbeats with the step number). */
  onStep?(index: number, step: Step): void;
  /** Stores a screenshot; returns the reference kept in `fields['screenshot:<name>']`. */
  screenshot(name: string, png: Buffer): Promise<string>;
}

/** Thrown by a step whose condition never held; carries the step index. */
export class StepFailed extends Error {
  override readonly name = 'StepFailed';
  constructor(
    message: string,
    readonly step: number,
  ) {
    super(message);
  }
}

/**
 * Page-side code, as source text (the project compiles without DOM types). Each is an expression of a
 * function taking one JSON argument.
 */
const READ_ALL = `([css, attr]) => Array.from(document.querySelectorAll(css), (el) =>
  attr === null ? (el.textContent || '').replace(/\\s+/g, ' ').trim() : el.getAttribute(attr))`;
const UNTIL_HOLDS = `(until) =>
  (until.selector === undefined || document.querySelector(until.selector) !== null) &&
  (until.count === undefined || document.querySelectorAll(until.count.selector).length >= until.count.min)`;
const SCROLL_TO_BOTTOM = `() => { const h = document.documentElement.scrollHeight; window.scrollTo(0, h); return h; }`;
const GREW_OR_HOLDS = `([h, until]) => document.documentElement.scrollHeight > h || (${UNTIL_HOLDS})(until)`;

/** Calls page-side `source` with `arg`. */
const call = (source: string, arg: unknown = null): string => `(${source})(${JSON.stringify(arg)})`;

/**
 * Runs `steps` on `page` (already at `url` unless the first step is a `goto`). Returns the extracted
 * fields (screenshot references included), or undefined when no step extracted anything.
 */
export async function runSteps(
  page: Page,
  url: string,
  steps: readonly Step[],
  hooks: StepHooks,
): Promise<Record<string, string | null> | undefined> {
  let fields: Record<string, string | null> | undefined;
  const setField = (name: string, value: string | null): void => {
    fields = { ...fields, [name]: value };
  };
  for (const [index, step] of steps.entries()) {
    hooks.onStep?.(index, step);
    const timeout =
      'timeoutMs' in step ? (step.timeoutMs ?? DEFAULT_STEP_TIMEOUT_MS) : DEFAULT_STEP_TIMEOUT_MS;
    switch (step.action) {
      case 'goto':
        await page.goto(step.url ?? url, { waitUntil: 'domcontentloaded', timeout });
        break;
      case 'click':
        await page.click(step.selector, { timeout });
        break;
      case 'fill':
        await page.fill(step.selector, step.value, { timeout });
        break;
      case 'select': {
        const chosen = await page.selectOption(step.selector, step.value, { timeout });
        if (chosen.length === 0)
          throw new StepFailed(`select: no option ${JSON.stringify(step.value)}`, index);
        break;
      }
      case 'waitFor':
        await page.waitForSelector(step.selector, { state: step.state, timeout });
        break;
      case 'wait':
        await page.waitForTimeout(step.ms);
        break;
      case 'scroll':
        await scroll(page, step, index);
        break;
      case 'extract':
        for (const [name, selector] of Object.entries(step.fields)) {
          const { css, attr } = parseSelector(selector);
          const values = await page.evaluate<Array<string | null>>(call(READ_ALL, [css, attr ?? null]));
          setField(name, step.all ? JSON.stringify(values) : (values[0] ?? null));
        }
        break;
      case 'screenshot': {
        const png = await page.screenshot({ fullPage: step.fullPage, type: 'png', timeout });
        setField(`screenshot:${step.name}`, await hooks.screenshot(step.name, png));
        break;
      }
    }
  }
  return fields;
}

/** Scrolls to the bottom until the condition holds, giving the page `settleMs` to grow after each scroll. */
async function scroll(page: Page, step: Extract<Step, { action: 'scroll' }>, index: number): Promise<void> {
  for (let scrolls = 0; ; scrolls++) {
    if (await page.evaluate<boolean>(call(UNTIL_HOLDS, step.until))) return;
    if (scrolls >= step.maxScrolls)
      throw new StepFailed(`scroll: condition not met after ${step.maxScrolls} scrolls`, index);
    const height = await page.evaluate<number>(call(SCROLL_TO_BOTTOM));
    try {
      await page.waitForFunction(call(GREW_OR_HOLDS, [height, step.until]), undefined, {
        timeout: Math.max(1, step.settleMs),
      });
    } catch (err) {
      if (!(err instanceof Error && err.name === 'TimeoutError')) throw err;
    }
  }
}

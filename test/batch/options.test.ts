import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { describeIssues, parseBatchOptions, ValidationError } from '../../src/batch/options.js';
import { checkFields, fieldRuleSchema } from '../../src/batch/field-schema.js';
import { stepsSchema } from '../../src/batch/steps.js';

const fails = (input: unknown, field: string) =>
  assert.throws(
    () => parseBatchOptions(input),
    (err: unknown) => err instanceof ValidationError && err.field === field && err.message.includes(field),
  );

describe('parseBatchOptions', () => {
  it('applies the documented defaults', () => {
    const o = parseBatchOptions({});
    assert.equal(o.concurrency, 10, "twice the default plan's concurrency (5)");
    assert.equal(parseBatchOptions({}, { plan: 20 }).concurrency, 40, 'twice the plan the caller knows');
    assert.equal(parseBatchOptions({ concurrency: 7 }, { plan: 20 }).concurrency, 7, 'as given');
    assert.equal(o.timeouts.permitWaitMs, 60_000);
    assert.equal(o.mode, 'auto');
    assert.equal(o.asyncFlow, 'js_rendering');
    assert.equal(o.retry.rateLimitMaxTries, 5);
    assert.equal(o.polling.initialMs, 2000);
    assert.equal(o.polling.budgetMs, 120_000);
    assert.equal(o.dedupe, true);
    assert.equal(parseBatchOptions({ dedupe: false }).dedupe, false);
  });

  it('names the offending field', () => {
    fails({ mode: 'turbo' }, 'mode');
    fails({ concurrency: 0 }, 'concurrency');
    fails({ timeouts: { permitWaitMs: 10 } }, 'timeouts.permitWaitMs');
    fails({ outputFormat: 'css_extractor' }, 'cssSelectors');
    fails({ retry: { upstreamRetries: -1 } }, 'retry.upstreamRetries');
    fails({ bogus: true }, '');
    fails(
      { outputFormat: 'css_extractor', cssSelectors: { a: 'h1' }, schema: { price: { type: 'number' } } },
      'schema.price',
    );
    fails({ mode: 'fast', jsWaitSelector: '.x' }, 'jsWaitSelector');
    fails({ dedupe: 'no' }, 'dedupe');
  });

  it('merges partial retry settings over the defaults', () => {
    const o = parseBatchOptions({ retry: { upstreamDelayMs: 10 } });
    assert.equal(o.retry.upstreamDelayMs, 10);
    assert.equal(o.retry.upstreamRetries, 3);
  });
});

describe('describeIssues', () => {
  it('names the field inside the union option the input matched, and leaves other unions alone', () => {
    const entry = z.union([z.string().min(3), z.object({ url: z.string(), steps: stepsSchema.optional() })]);
    const message = (input: unknown) => {
      const parsed = z.array(entry).safeParse(input);
      assert.ok(!parsed.success);
      return describeIssues(parsed.error.issues, 'urls');
    };
    assert.equal(
      message(['abc', { url: 'u', steps: [{ action: 'click' }] }]),
      'urls[1].steps[0].selector: is required',
    );
    assert.match(message(['ab']), /^urls\[0\]: Too small/);
    assert.equal(message([5]), 'urls[0]: Invalid input');
  });
});

describe('checkFields', () => {
  it('accepts conforming fields and names every violation', () => {
    const schema = z.record(z.string(), fieldRuleSchema).parse({
      title: { type: 'string' },
      price: { type: 'number' },
      qty: { type: 'integer', required: false },
    });
    assert.deepEqual(checkFields({ title: 'A', price: '$1,234.50', qty: null }, schema), []);
    assert.deepEqual(checkFields({ title: ' ', price: 'call us', qty: '1.5' }, schema), [
      'title: required but missing',
      'price: "call us" is not a number',
      'qty: "1.5" is not an integer',
    ]);
  });
});

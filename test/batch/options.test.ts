import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { describeIssues, OPTION_LIMITS, parseBatchOptions } from '../../src/batch/options.js';
import { checkFields, fieldRuleSchema } from '../../src/batch/field-schema.js';
import { MAX_EXTRACT_FIELDS, MAX_STEPS, stepsSchema } from '../../src/batch/steps.js';
import { extract } from '../../devkit/local-api/extract.js';
import { ValidationError } from '../../src/errors.js';

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
    fails({ account: "ac'me" }, 'account');
    fails({ account: 'a\\b' }, 'account');
    assert.equal(parseBatchOptions({ account: 'team a' }).account, 'team a');
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

describe('caps on the options (every URL of the batch carries them)', () => {
  const many = (n: number, value: (i: number) => unknown) =>
    Object.fromEntries(Array.from({ length: n }, (_, i) => [`f${i}`, value(i)]));

  it('refuses more selectors, schema fields, tags, steps or extract fields than the caps, naming the field', () => {
    const selectors = many(OPTION_LIMITS.selectors, () => 'h1');
    assert.ok(parseBatchOptions({ outputFormat: 'css_extractor', cssSelectors: selectors }));
    fails({ outputFormat: 'css_extractor', cssSelectors: { ...selectors, one: 'h1' } }, 'cssSelectors');
    fails(
      {
        outputFormat: 'css_extractor',
        cssSelectors: { one: 'h1' },
        schema: many(OPTION_LIMITS.schemaFields + 1, () => ({ type: 'string' })),
      },
      'schema',
    );
    fails({ tags: Array.from({ length: OPTION_LIMITS.tags + 1 }, (_, i) => `t${i}`) }, 'tags');
    fails({ steps: Array.from({ length: MAX_STEPS + 1 }, () => ({ action: 'wait', ms: 1 })) }, 'steps');
    fails(
      { steps: [{ action: 'extract', fields: many(MAX_EXTRACT_FIELDS + 1, () => 'h1') }] },
      'steps[0].fields',
    );
    assert.throws(
      () => parseBatchOptions({ outputFormat: 'css_extractor', cssSelectors: { ...selectors, one: 'h1' } }),
      /cssSelectors: has more than 100 selectors/,
    );
  });

  it('refuses options over 64 KiB as JSON, before anything else is checked', () => {
    const fill = (i: number) => ({ action: 'fill', selector: `#f${i}`, value: 'x'.repeat(10_000) });
    const steps = Array.from({ length: 7 }, (_, i) => fill(i));
    assert.ok(parseBatchOptions({ steps: steps.slice(0, 6) }), '~60 KB passes');
    assert.throws(
      () => parseBatchOptions({ steps }),
      (err: unknown) =>
        err instanceof ValidationError &&
        err.field === '' &&
        /^invalid batch options: 70\d{3} bytes as JSON, over the 65536 a batch's options may hold$/.test(
          err.message,
        ),
    );
  });

  it('refuses a key named __proto__ (zod would drop it silently), naming where it is', () => {
    fails(
      JSON.parse('{"outputFormat":"css_extractor","cssSelectors":{"__proto__":"h1"}}'),
      'cssSelectors.__proto__',
    );
    fails(
      JSON.parse('{"steps":[{"action":"extract","fields":{"__proto__":"h1"}}]}'),
      'steps[0].fields.__proto__',
    );
  });

  it('a schema field named constructor works: extracted, validated, and reported when missing', () => {
    const options = parseBatchOptions({
      outputFormat: 'css_extractor',
      cssSelectors: { constructor: 'h1', toString: '.price' },
      schema: { constructor: { type: 'string' }, toString: { type: 'number' } },
    });
    const schema = options.schema!;
    const fields = extract('<h1>Widget</h1><p class="price">$12.50</p>', options.cssSelectors!);
    assert.deepEqual(fields, { constructor: 'Widget', toString: '$12.50' });
    assert.deepEqual(checkFields(fields, schema), []);
    assert.deepEqual(checkFields({}, schema), [
      'constructor: required but missing',
      'toString: required but missing',
    ]);
    fails(
      {
        outputFormat: 'css_extractor',
        cssSelectors: { title: 'h1' },
        schema: { constructor: { type: 'string' } },
      },
      'schema.constructor',
    );
  });
});

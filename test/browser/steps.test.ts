/** Step validation (names the step and the field) and the mapping of BaaS/CDP failures into the taxonomy. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseBatchOptions } from '../../src/batch/options.js';
import { browserError } from '../../src/activities/browser.js';
import { browserUrlFrom } from '../../src/workers/browser.js';
import { COST_TABLE } from '../../devkit/local-api/billing.js';
import { DEFAULT_SESSION_PRICE } from '../../src/activities/browser.js';
import { registerSecret } from '../../src/logging/secrets.js';
import { retryDecision, retryMatrixSchema } from '../../src/omniscrape/retry-matrix.js';
import { ValidationError } from '../../src/errors.js';

const fails = (steps: unknown, field: string, message: RegExp) =>
  assert.throws(
    () => parseBatchOptions({ steps }),
    (err: unknown) =>
      err instanceof ValidationError &&
      err.field === field &&
      message.test(err.message) &&
      err.message.includes(field),
  );

describe('steps validation', () => {
  it('accepts every action and applies defaults', () => {
    const o = parseBatchOptions({
      steps: [
        { action: 'goto' },
        { action: 'click', selector: '#cookie-accept' },
        { action: 'fill', selector: 'input[name=q]', value: 'lamp' },
        { action: 'select', selector: 'select#category', value: 'books' },
        { action: 'waitFor', selector: '.item' },
        { action: 'scroll', until: { count: { selector: '.item', min: 15 } } },
        { action: 'wait', ms: 100 },
        { action: 'extract', fields: { first: '.item-name', total: '#items@data-total' } },
        { action: 'screenshot', name: 'after-scroll' },
      ],
    });
    assert.equal(o.steps?.length, 9);
    assert.deepEqual(o.steps?.[4], { action: 'waitFor', selector: '.item', state: 'visible' });
    assert.deepEqual(o.steps?.[5], {
      action: 'scroll',
      until: { count: { selector: '.item', min: 15 } },
      maxScrolls: 50,
      settleMs: 2000,
    });
    assert.equal(parseBatchOptions({}).steps, undefined, 'no steps: the HTTP path');
  });

  it('names the step and the field', () => {
    fails(
      [{ action: 'goto' }, { action: 'click' }],
      'steps[1].selector',
      /steps\[1\]\.selector: is required/,
    );
    fails([{ action: 'fill', selector: 'input' }], 'steps[0].value', /is required/);
    fails([{ action: 'teleport' }], 'steps[0].action', /must be one of goto, click/);
    fails([{ action: 'wait', ms: 60_000 }], 'steps[0].ms', /at most 30000/);
    fails([{ action: 'scroll', until: {} }], 'steps[0].until', /needs selector or count/);
    fails(
      [{ action: 'scroll', until: { count: { selector: '.x' } } }],
      'steps[0].until.count.min',
      /required/,
    );
    fails([{ action: 'extract', fields: {} }], 'steps[0].fields', /at least one field/);
    fails([{ action: 'goto', url: 'ftp://example.com/' }], 'steps[0].url', /http/);
    fails([{ action: 'screenshot', name: 'Not OK' }], 'steps[0].name', /a-z0-9/);
    fails([{ action: 'click', selector: 'a', force: true }], 'steps[0]', /force/);
    fails([], 'steps', /at least one step/);
  });
});

describe('BaaS failures into the taxonomy', () => {
  const refused = (status: number, text: string, body: string) =>
    new Error(
      `browserType.connectOverCDP: WebSocket error: ws://127.0.0.1:1/browser ${status} ${text}\n${body}\nCall log:\n  - x`,
    );

  it('maps refused upgrades like the HTTP answers', () => {
    assert.equal(
      browserError(refused(401, 'Unauthorized', '{"error":"invalid_api_key"}'), true).code,
      'auth',
    );
    assert.equal(browserError(refused(402, 'Payment Required', '{}'), true).code, 'balance_exhausted');
    const limited = browserError(refused(429, 'Too Many Requests', '{"retry_after":3}'), true);
    assert.equal(limited.code, 'rate_limited');
    assert.equal((limited as unknown as { retryAfterMs: number }).retryAfterMs, 3000);
    assert.equal(browserError(refused(503, 'Service Unavailable', 'x'), true).code, 'upstream');
  });

  it('maps connection failures, disconnects, timeouts and step failures', () => {
    assert.equal(
      browserError(new Error('WebSocket error: connect ECONNREFUSED 127.0.0.1:9'), true).code,
      'connection',
    );
    assert.equal(
      browserError(new Error('page.click: Target page, context or browser has been closed'), false).code,
      'connection',
    );
    const timeout = Object.assign(new Error('page.goto: Timeout 30000ms exceeded.'), {
      name: 'TimeoutError',
    });
    assert.equal(browserError(timeout, false).code, 'browser_timeout');
    const step = browserError(new Error('page.fill: Error: Element is not an <input>'), false, 3);
    assert.equal(step.code, 'browser_step_failed');
    assert.match(step.message, /^step 3:/);
  });

  it('never carries the key', () => {
    registerSecret('sk-browser-secret-1');
    const err = browserError(
      new Error('WebSocket error: ws://h/browser?apikey=sk-browser-secret-1 boom'),
      true,
    );
    assert.ok(!err.message.includes('sk-browser-secret-1'));
  });

  it('documents the retry policy: timeouts and disconnects like 5xx, step failures dead-lettered', () => {
    const timeout = Object.assign(new Error('Timeout'), { name: 'TimeoutError' });
    const m = retryMatrixSchema.parse({});
    assert.deepEqual(retryDecision(browserError(timeout, false), 3, m, 0.5), { retry: true, delayMs: 5000 });
    assert.deepEqual(retryDecision(browserError(timeout, false), 4, m, 0.5), {
      retry: false,
      outcome: 'fail',
    });
    assert.deepEqual(retryDecision(browserError(new Error('x'), false, 0), 1, m, 0.5), {
      retry: false,
      outcome: 'dead_letter',
    });
  });

  it('the session price the records use is the price BaaS charges', () => {
    assert.equal(DEFAULT_SESSION_PRICE, COST_TABLE.baas_session);
  });

  it('derives the BaaS URL from the API URL', () => {
    const base = { OMNISCRAPE_BROWSER_URL: undefined };
    assert.equal(
      browserUrlFrom({ ...base, OMNISCRAPE_API_URL: 'http://127.0.0.1:8787/v1' }),
      'ws://127.0.0.1:8787/browser',
    );
    assert.equal(
      browserUrlFrom({ ...base, OMNISCRAPE_API_URL: 'https://api.omniscrape.io/v1' }),
      'wss://api.omniscrape.io/browser',
    );
    assert.equal(
      browserUrlFrom({
        OMNISCRAPE_BROWSER_URL: 'wss://browser.omniscrape.io',
        OMNISCRAPE_API_URL: 'https://x/v1',
      }),
      'wss://browser.omniscrape.io',
    );
  });
});

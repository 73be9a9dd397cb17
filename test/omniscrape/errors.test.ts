import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { redactSecrets, registerSecret } from '../../src/logging/secrets.js';
import {
  AuthError,
  BalanceExhaustedError,
  ClientTimeoutError,
  RateLimitedError,
  ScrapeFailedError,
  UpstreamError,
} from '../../src/omniscrape/errors.js';
import { retryDecision, retryMatrixSchema } from '../../src/omniscrape/retry-matrix.js';
import { parseRetryAfter } from '../../src/omniscrape/transport.js';

const m = retryMatrixSchema.parse({});

describe('retryDecision (the error matrix)', () => {
  it('stops on 401 and pauses on 402 without retrying', () => {
    assert.deepEqual(retryDecision(new AuthError('x'), 1, m, 0.5), { retry: false, outcome: 'pause_auth' });
    assert.deepEqual(retryDecision(new BalanceExhaustedError('x'), 1, m, 0.5), {
      retry: false,
      outcome: 'pause_balance',
    });
  });

  it('backs 429 off from 2 s by 1.5x with ±20 % jitter, capped at 60 s, at most 5 tries', () => {
    const err = new RateLimitedError('slow down');
    assert.deepEqual(retryDecision(err, 1, m, 0.5), { retry: true, delayMs: 2000 });
    assert.deepEqual(retryDecision(err, 2, m, 0.5), { retry: true, delayMs: 3000 });
    assert.deepEqual(retryDecision(err, 1, m, 0), { retry: true, delayMs: 1600 });
    assert.deepEqual(retryDecision(err, 1, m, 0.999999), { retry: true, delayMs: 2400 });
    const capped = retryDecision(err, 4, { ...m, rateLimitCapMs: 3000 }, 0.5);
    assert.deepEqual(capped, { retry: true, delayMs: 3000 });
    assert.deepEqual(retryDecision(err, 5, m, 0.5), { retry: false, outcome: 'fail' });
  });

  it('never retries a 429 sooner than Retry-After', () => {
    const err = new RateLimitedError('slow down', { retryAfterMs: 7000 });
    assert.deepEqual(retryDecision(err, 1, m, 0.999), { retry: true, delayMs: 7000 });
  });

  it('retries 5xx three times 5 s apart, then fails', () => {
    const err = new UpstreamError('boom', { status: 503 });
    for (const attempt of [1, 2, 3])
      assert.deepEqual(retryDecision(err, attempt, m, 0.5), { retry: true, delayMs: 5000 });
    assert.deepEqual(retryDecision(err, 4, m, 0.5), { retry: false, outcome: 'fail' });
  });

  it('retries a client timeout once, then switches to the async job flow', () => {
    const err = new ClientTimeoutError('slow', { phase: 'headers' });
    assert.equal(retryDecision(err, 1, m, 0.5).retry, true);
    assert.deepEqual(retryDecision(err, 2, m, 0.5), { retry: false, outcome: 'switch_to_async' });
  });

  it('dead-letters success:false and never retries it', () => {
    const err = new ScrapeFailedError('target 404', { response: { success: false } });
    assert.deepEqual(retryDecision(err, 1, m, 0.5), { retry: false, outcome: 'dead_letter' });
  });
});

describe('parseRetryAfter', () => {
  it('reads delta-seconds and HTTP dates', () => {
    assert.equal(parseRetryAfter('3'), 3000);
    assert.equal(parseRetryAfter('0.5'), 500);
    const now = Date.parse('2026-01-01T00:00:00Z');
    assert.equal(parseRetryAfter('Thu, 01 Jan 2026 00:00:10 GMT', now), 10_000);
    assert.equal(parseRetryAfter('soon'), undefined);
    assert.equal(parseRetryAfter(undefined), undefined);
  });
});

describe('secrets', () => {
  it('are removed from messages, excerpts and apikey= query strings', () => {
    registerSecret('sk-very-secret-key-123');
    const err = new UpstreamError('failed with sk-very-secret-key-123', {
      bodyExcerpt: 'key sk-very-secret-key-123',
    });
    assert.ok(!JSON.stringify(err.toJSON()).includes('sk-very-secret-key-123'));
    assert.equal(redactSecrets('ws://h/browser?apikey=abc&x=1'), 'ws://h/browser?apikey=[REDACTED]&x=1');
  });

  it('keeps class names as names and stable codes', () => {
    const err = new BalanceExhaustedError('no money', { status: 402 });
    assert.equal(err.name, 'BalanceExhaustedError');
    assert.equal(err.code, 'balance_exhausted');
    assert.equal(err.status, 402);
  });
});

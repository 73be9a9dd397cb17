/**
 * What `status` and `--watch` do with each pause reason: the next step printed, and whether following
 * the batch stops (an outage pause resumes by itself, so watching goes on).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isSettled } from '../../src/client/follow.js';
import { summaryLines } from '../../src/cli/progress.js';
import type { BatchProgress, PauseReason } from '../../src/workflows/types.js';

const paused = (pauseReason: PauseReason, extra: Partial<BatchProgress> = {}): BatchProgress => ({
  batchId: 'b1',
  state: 'paused',
  pauseReason,
  total: 10,
  counts: { succeeded: 4, failed: 0, dead_lettered: 0, in_flight: 0, pending: 6 },
  credits: 40,
  creditsByMethod: {},
  creditsByTag: {},
  window: 0,
  concurrency: 5,
  rateLimited: 0,
  waiting: 0,
  startedAt: '2025-01-01T00:00:00.000Z',
  continuedAsNew: 0,
  ...extra,
});

const advice = (p: BatchProgress) => summaryLines(p).find((line) => line.startsWith('paused:')) ?? '';

describe('pause reasons in the summary', () => {
  it('outage: resumes by itself through the probe; resume only to go on sooner', () => {
    const line = advice(paused('outage'));
    assert.match(line, /resumes by itself when it answers/);
    assert.match(line, /every 5 s, up to every 5 min/);
    assert.match(line, /`scrapeflow resume b1`/);
  });

  it('budget: names the cap and the spending, and how to raise it', () => {
    const line = advice(paused('budget', { maxCredits: 50 }));
    assert.match(line, /credit cap \(50 credits, 40 spent\)/);
    assert.match(line, /`scrapeflow resume b1 --max-credits <n>`/);
  });

  it('balance, auth and manual keep their own next step', () => {
    assert.match(advice(paused('balance')), /Top up.*`resume --all`/);
    assert.match(advice(paused('auth')), /OMNISCRAPE_KEY/);
    assert.match(advice(paused('manual')), /^paused: continue with `scrapeflow resume b1`\.$/);
  });
});

describe('following a paused batch', () => {
  it('stops at a pause that waits for a human, not at an outage pause', () => {
    for (const reason of ['auth', 'balance', 'budget', 'manual'] as const)
      assert.equal(isSettled(paused(reason)), true, reason);
    assert.equal(isSettled(paused('outage')), false);
    assert.equal(isSettled(paused('manual'), false), false, 'stopOnPause false');
  });
});

/** The workflows' arithmetic, pure: a page's credit budget, the batch's concurrency shares, totals. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CreditBudget } from '../../src/workflows/budget.js';
import { ConcurrencyShares } from '../../src/workflows/shares.js';
import { addOutcome, addTotals, noCounts, type Totals } from '../../src/workflows/totals.js';

describe('CreditBudget', () => {
  it('starts a URL only while spent + reserved + its price fit in the allowance', () => {
    const budget = new CreditBudget(10);
    assert.ok(budget.affords(0, 10), 'exactly the allowance fits');
    budget.reserve(0, 5);
    budget.reserve(1, 3);
    assert.equal(budget.reserved, 8);
    assert.equal(budget.inFlight, 2);
    assert.ok(budget.affords(0, 2));
    assert.ok(!budget.affords(0, 3), 'one credit over');
    assert.ok(!budget.affords(1, 2), 'what was spent counts too');
    budget.release(0);
    assert.equal(budget.reserved, 3);
    assert.ok(budget.affords(1, 6));
  });

  it('releases each reservation once, and affords everything without an allowance', () => {
    const budget = new CreditBudget(undefined);
    budget.reserve(7, 10);
    budget.release(7);
    budget.release(7);
    budget.release(8); // never reserved
    assert.equal(budget.reserved, 0);
    assert.equal(budget.inFlight, 0);
    assert.ok(budget.affords(1e9, 1e9));
    budget.allowance = 4; // a resume with the budget left
    assert.ok(!budget.affords(3, 2));
  });
});

describe('ConcurrencyShares', () => {
  it('splits the free concurrency evenly among the pages starting together, never above it', () => {
    const shares = new ConcurrencyShares(10);
    assert.equal(shares.start(0, 4), 3); // ceil(10 / 4)
    assert.equal(shares.start(1, 3), 3); // ceil(7 / 3)
    assert.equal(shares.start(2, 2), 2); // ceil(4 / 2)
    assert.equal(shares.start(3, 1), 2);
    assert.equal(shares.used, 10);
    assert.equal(shares.free, 0);
    assert.deepEqual(shares.pages(), [0, 1, 2, 3]);
    shares.end(1);
    assert.equal(shares.free, 3);
    assert.equal(shares.start(4, 1), 3, 'a page that starts later takes what the ended one freed');
    assert.ok(shares.has(4) && !shares.has(1));
  });

  it('widens the running pages by what is free, the first ones taking the remainder', () => {
    const shares = new ConcurrencyShares(11);
    shares.start(0, 3);
    shares.start(1, 2);
    shares.start(2, 1);
    shares.end(1);
    assert.equal(shares.free, 4);
    assert.deepEqual(shares.widen(), [
      { page: 0, window: 6 },
      { page: 2, window: 5 },
    ]);
    assert.equal(shares.used, 11);
    assert.deepEqual(shares.widen(), [], 'nothing free: no change');
    shares.clear();
    assert.deepEqual(shares.widen(), [], 'no page running');
    assert.equal(shares.running, 0);
  });
});

describe('totals', () => {
  const empty = (): Totals => ({ counts: noCounts(), credits: 0, creditsByMethod: {}, rateLimited: 0 });

  it('adds records by status and charges them to their method (unknown when none), uncharged ones to none', () => {
    const totals = empty();
    addOutcome(totals, { status: 'succeeded', charged: 1, methodUsed: 'fast' });
    addOutcome(totals, { status: 'succeeded', charged: 5, methodUsed: 'js_rendering' });
    addOutcome(totals, { status: 'dead_lettered', charged: 1 });
    addOutcome(totals, { status: 'failed', charged: 0, methodUsed: 'fast' });
    assert.deepEqual(totals, {
      counts: { succeeded: 2, failed: 1, dead_lettered: 1 },
      credits: 7,
      creditsByMethod: { fast: 1, js_rendering: 5, unknown: 1 },
      rateLimited: 0,
    });
  });

  it('adds totals, keeps extra counts of the target, and takes the later balance', () => {
    const batch = { ...empty(), counts: { ...noCounts(), in_flight: 3, pending: 9 }, lastBalance: 50 };
    addTotals(batch, {
      counts: { succeeded: 2, failed: 1, dead_lettered: 0 },
      credits: 2,
      creditsByMethod: { fast: 2 },
      rateLimited: 4,
      lastBalance: 48,
    });
    addTotals(batch, {
      counts: { succeeded: 1, failed: 0, dead_lettered: 1 },
      credits: 3,
      creditsByMethod: { fast: 3 },
    });
    assert.deepEqual(batch, {
      counts: { succeeded: 3, failed: 1, dead_lettered: 1, in_flight: 3, pending: 9 },
      credits: 5,
      creditsByMethod: { fast: 5 },
      rateLimited: 4,
      lastBalance: 48,
    });
  });
});

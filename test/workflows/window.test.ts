import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AdaptiveWindow, PRESSURE_TO_SHRINK, pollDelayMs } from '../../src/workflows/window.js';

describe('AdaptiveWindow', () => {
  it('halves on a 429 and grows back by about one slot per window of completions', () => {
    const w = new AdaptiveWindow(8, true);
    assert.equal(w.slots, 8);
    w.onRateLimited();
    assert.equal(w.slots, 4);
    for (let i = 0; i < 4; i++) w.onCompleted();
    assert.equal(w.slots, 4, 'grows by 1/size per completion');
    for (let i = 0; i < 40; i++) w.onCompleted();
    assert.equal(w.slots, 8, 'never beyond the ceiling');
  });

  it('counts a burst of 429s within one round once', () => {
    const w = new AdaptiveWindow(8, true);
    w.onRateLimited();
    w.onRateLimited();
    w.onRateLimited();
    assert.equal(w.slots, 4);
    for (let i = 0; i < 4; i++) w.onCompleted();
    w.onRateLimited();
    assert.equal(w.slots, 2);
  });

  it('never goes below one and stays put when not adaptive', () => {
    const w = new AdaptiveWindow(2, true);
    for (let i = 0; i < 10; i++) {
      w.onRateLimited();
      w.onCompleted();
    }
    assert.ok(w.slots >= 1);
    const fixed = new AdaptiveWindow(5, false);
    fixed.onRateLimited();
    assert.equal(fixed.slots, 5);
  });
});

const slotsOf = (w: AdaptiveWindow): number => w.slots;

describe('AdaptiveWindow by 429 pressure', () => {
  it('ignores scattered 429s: one in ten completions leaves the window whole', () => {
    const w = new AdaptiveWindow(10, true, undefined, undefined, 'pressure');
    for (let i = 0; i < 500; i++) {
      if (i % 10 === 3) w.onRateLimited();
      w.onCompleted();
    }
    assert.equal(w.slots, 10);
    assert.ok(w.pressure < PRESSURE_TO_SHRINK);
  });

  it('halves within a round when 429s keep coming, and only once per round', () => {
    const w = new AdaptiveWindow(10, true, undefined, undefined, 'pressure');
    w.onRateLimited();
    w.onRateLimited();
    assert.equal(w.slots, 10, 'two 429s are not yet pressure');
    w.onRateLimited();
    assert.equal(w.slots, 5, 'a third within the round is');
    for (let i = 0; i < 6; i++) w.onRateLimited();
    assert.equal(w.slots, 5, 'the rest of the burst counts once');
    // An account over its plan: every completion meets two 429s.
    for (let i = 0; i < 20; i++) {
      w.onRateLimited();
      w.onRateLimited();
      w.onCompleted();
    }
    const backedOff = slotsOf(w); // read through a function: the asserts above narrowed `w.slots` to 5
    assert.ok(backedOff <= 2, `backed off to ${backedOff} (AIMD settles between one and two here)`);
  });
});

describe('pollDelayMs', () => {
  it('starts at 2 s, grows by 1.5 and caps at 10 s', () => {
    const p = { initialMs: 2000, factor: 1.5, maxMs: 10_000 };
    assert.deepEqual(
      [0, 1, 2, 3, 4, 5].map((t) => pollDelayMs(t, p)),
      [2000, 3000, 4500, 6750, 10_000, 10_000],
    );
  });
});

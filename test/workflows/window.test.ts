import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AdaptiveWindow, PRESSURE_TO_SHRINK, pollDelayMs } from '../../src/workflows/window.js';

const windowOf = (ceiling: number, adaptive = true) => new AdaptiveWindow({ ceiling, adaptive });

describe('AdaptiveWindow', () => {
  it('never goes below one and stays put when not adaptive', () => {
    const w = windowOf(2);
    for (let i = 0; i < 10; i++) {
      w.onRateLimited();
      w.onRateLimited();
      w.onCompleted();
    }
    assert.ok(w.slots >= 1);
    const fixed = windowOf(5, false);
    for (let i = 0; i < 10; i++) fixed.onRateLimited();
    assert.equal(fixed.slots, 5);
  });

  it('takes a new ceiling: added slots are usable at once, a lower one caps it', () => {
    const w = windowOf(4);
    w.setCeiling(10);
    assert.equal(w.slots, 10);
    w.setCeiling(3);
    assert.equal(w.slots, 3);
    const fixed = windowOf(2, false);
    fixed.setCeiling(7);
    assert.equal(fixed.slots, 7);
  });

  it('carries its state across continue-as-new', () => {
    const w = windowOf(10);
    for (let i = 0; i < 3; i++) w.onRateLimited();
    const next = new AdaptiveWindow({ ceiling: 10, adaptive: true, state: w.state });
    assert.equal(next.slots, w.slots);
    assert.deepEqual(next.state, w.state);
  });
});

const slotsOf = (w: AdaptiveWindow): number => w.slots;

describe('AdaptiveWindow by 429 pressure', () => {
  it('ignores scattered 429s: one in ten completions leaves the window whole', () => {
    const w = windowOf(10);
    for (let i = 0; i < 500; i++) {
      if (i % 10 === 3) w.onRateLimited();
      w.onCompleted();
    }
    assert.equal(w.slots, 10);
    assert.ok(w.pressure < PRESSURE_TO_SHRINK);
  });

  it('halves within a round when 429s keep coming, and only once per round', () => {
    const w = windowOf(10);
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

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { OutageDetector } from '../../src/omniscrape/outage.js';

describe('OutageDetector', () => {
  const at = (t: { now: number }) => () => t.now;

  it('says down once most of the latest calls failed, even right after many healthy ones', () => {
    const clock = { now: 0 };
    const d = new OutageDetector({ now: at(clock) });
    for (let i = 0; i < 500; i++) d.record(false);
    let calls = 0;
    while (!d.down) {
      d.record(true);
      calls += 1;
      assert.ok(calls <= 20, 'within one window of calls');
    }
    assert.equal(calls, 16, '80 % of the latest 20');
  });

  it('stays up when only some calls fail (a 5xx that only some URLs get)', () => {
    const d = new OutageDetector({ now: () => 0 });
    for (let i = 0; i < 200; i++) d.record(i % 3 === 0);
    assert.equal(d.down, false);
  });

  it('needs a few calls before it can say down, and forgets old ones', () => {
    const clock = { now: 0 };
    const d = new OutageDetector({ now: at(clock) });
    for (let i = 0; i < 9; i++) d.record(true);
    assert.equal(d.down, false, '9 calls are not enough');
    d.record(true);
    assert.equal(d.down, true);
    clock.now = 61_000;
    assert.equal(d.down, false, 'a minute later nothing counts');
  });
});

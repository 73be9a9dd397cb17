import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Account } from '../../devkit/local-api/accounts.js';
import { Reservation, setBalance } from '../../devkit/local-api/billing.js';

const account = (balance: number): Account => ({
  id: 'a',
  key: 'sk-billing-test',
  balance,
  concurrency: 5,
  reserved: 0,
  active: 0,
  activeSync: 0,
});

describe('local API billing: reservations', () => {
  it('charges what a reservation holds in full, and an extra beyond it only from what is free', () => {
    const a = account(12);
    const session = Reservation.take(a, 10);
    const scrape = Reservation.take(a, 1);
    assert.ok(session && scrape);
    assert.equal(Reservation.take(a, 5), undefined, 'a third request cannot count on held credits');
    assert.deepEqual(session.commit(10), { charged: 10, balanceAfter: 2 });
    // The scrape escalated to the solver: 1 held, 10 more wanted, 1 free.
    assert.deepEqual(scrape.commit(11), { charged: 2, balanceAfter: 0 });
    assert.equal(a.reserved, 0);
  });

  it('an operator cannot set the balance below what requests in flight hold', () => {
    const a = account(100);
    const held = Reservation.take(a, 10);
    assert.ok(held);
    assert.equal(setBalance(a, 3), 10, 'the held session keeps its credits');
    assert.deepEqual(held.commit(10), { charged: 10, balanceAfter: 0 });
    assert.equal(setBalance(a, 3), 3, 'nothing held: the balance is what was asked');
    assert.equal(setBalance(a, -5), 0);
  });

  it('a released or committed reservation charges nothing more', () => {
    const a = account(5);
    const r = Reservation.take(a, 5);
    assert.ok(r);
    r.release();
    assert.equal(a.reserved, 0);
    assert.deepEqual(r.commit(0), { charged: 0, balanceAfter: 5 });
  });
});

/**
 * Plan permits: the in-process semaphore, and the PostgreSQL leases against a real PostgreSQL
 * (127.0.0.1:5432 by default; SCRAPEFLOW_TEST_DATABASE_URL overrides) in a schema of their own, dropped
 * at the end. Several `PgPermits` are several holders on connections of their own, as scrape workers on
 * several hosts are.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import {
  LocalPermits,
  type PlanLimit,
  type PermitResource,
  type AcquireOptions,
  type PlanPermits,
  type ReleasePermit,
} from '../../src/omniscrape/permits.js';
import { PgPermits } from '../../src/omniscrape/pg-permits.js';
import { AbortedError } from '../../src/omniscrape/errors.js';
import { PgStore } from '../../src/store/pg-store.js';
import { eventually } from '../support/stack.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { loadConfig } from '../../src/config/env.js';
import { ConfigError } from '../../src/errors.js';

/** Runs `work` under a permit for `account`, giving the permit back however `work` ends. */
async function withPermit<T>(
  permits: PlanPermits,
  account: string,
  options: AcquireOptions,
  work: () => Promise<T>,
): Promise<T> {
  const release = await permits.acquire(account, options);
  try {
    return await work();
  } finally {
    await release();
  }
}

/** Holds a permit for a few milliseconds of simulated call (not synchronisation: the work itself). */
const call = () => new Promise((resolve) => setTimeout(resolve, 2 + Math.floor(Math.random() * 6)));

/** Runs `calls` calls spread over the holders, counting permits held at once from the callers' side. */
async function contend(holders: PlanPermits[], account: string, calls: number) {
  let held = 0;
  let peak = 0;
  await Promise.all(
    Array.from({ length: calls }, (_, i) =>
      withPermit(holders[i % holders.length]!, account, {}, async () => {
        held += 1;
        peak = Math.max(peak, held);
        await call();
        held -= 1;
      }),
    ),
  );
  return { peak, held };
}

describe('the plan limit in the environment', () => {
  it('reads OMNISCRAPE_PLAN_CONCURRENCY, still reads the old name, and refuses the two disagreeing', () => {
    assert.equal(loadConfig({}).OMNISCRAPE_PLAN_CONCURRENCY, 5);
    assert.equal(loadConfig({ OMNISCRAPE_CONCURRENCY: '7' }).OMNISCRAPE_PLAN_CONCURRENCY, 7);
    assert.equal(loadConfig({ OMNISCRAPE_PLAN_CONCURRENCY: '9' }).SCRAPEFLOW_SCRAPE_SLOTS, undefined);
    assert.throws(
      () => loadConfig({ OMNISCRAPE_CONCURRENCY: '7', OMNISCRAPE_PLAN_CONCURRENCY: '9' }),
      (err: unknown) =>
        err instanceof ConfigError && /OMNISCRAPE_CONCURRENCY.*OMNISCRAPE_PLAN_CONCURRENCY/.test(err.message),
    );
  });
});

describe('LocalPermits', () => {
  it('holds at most the limit per account, hands a released permit to the oldest waiter, and lets a waiter abort', async () => {
    const permits = new LocalPermits(2);
    assert.deepEqual(await contend([permits], 'a', 40), { peak: 2, held: 0 });
    const first = await permits.acquire('a');
    const second = await permits.acquire('a');
    await (
      await permits.acquire('b')
    )(); // another account has a plan of its own
    const order: string[] = [];
    const third = permits.acquire('a').then((r) => (order.push('third'), r));
    const fourth = permits.acquire('a').then((r) => (order.push('fourth'), r));
    const abort = new AbortController();
    const aborted = permits.acquire('a', { signal: abort.signal });
    abort.abort();
    await assert.rejects(aborted, AbortedError);
    await first();
    await first(); // twice is harmless
    await (
      await third
    )();
    await second();
    await (
      await fourth
    )();
    assert.deepEqual(order, ['third', 'fourth']);
    assert.equal(permits.held('a'), 0);
  });

  it('serves the most urgent waiter first, the oldest among equals', async () => {
    const permits = new LocalPermits(1);
    const holding = await permits.acquire('a');
    const order: string[] = [];
    const waiting = (name: string, priority?: number) =>
      permits.acquire('a', priority === undefined ? {} : { priority }).then(async (release) => {
        order.push(name);
        await release();
      });
    const all = [
      waiting('p3', 3),
      waiting('p1', 1),
      waiting('p5', 5),
      waiting('unset'),
      waiting('p1-later', 1),
    ];
    await holding();
    await Promise.all(all);
    assert.deepEqual(order, ['p1', 'p1-later', 'p3', 'unset', 'p5']);
  });

  it('holds each account to its own limit, and refuses an account the limits do not know with their error', async () => {
    const plans: Record<string, number> = { small: 1, big: 3 };
    const permits = new LocalPermits((account) => {
      const plan = plans[account];
      if (plan === undefined) throw new Error(`no plan for ${account}`);
      return plan;
    });
    assert.deepEqual(await contend([permits], 'small', 20), { peak: 1, held: 0 });
    assert.deepEqual(await contend([permits], 'big', 30), { peak: 3, held: 0 });
    await assert.rejects(permits.acquire('nobody'), /no plan for nobody/);
    assert.equal(permits.held('nobody'), 0);
  });
});

describe('PgPermits against PostgreSQL', () => {
  let db: TestDatabase;
  let admin: pg.Client;
  const opened: PgPermits[] = [];
  const open = async (limit: PlanLimit, leaseMs = 3000, resource: PermitResource = 'plan') => {
    const permits = await PgPermits.open({
      connectionString: db.url,
      limit,
      leaseMs,
      resource,
      onError: (err, what) => process.stderr.write(`permits: ${what}: ${err.message}\n`),
    });
    opened.push(permits);
    return permits;
  };
  const rows = async (account: string) =>
    (
      await admin.query<{ holder: string; live: boolean }>(
        `SELECT holder, expires_at > now() AS live FROM scrapeflow_plan_leases WHERE account = $1`,
        [account],
      )
    ).rows;

  /** Claims of waiting calls (`scrapeflow_plan_waiters`) of an account, live or not. */
  const claims = async (account: string) =>
    (
      await admin.query<{ holder: string; priority: number; live: boolean }>(
        `SELECT holder, priority, expires_at > now() AS live FROM scrapeflow_plan_waiters
         WHERE account = $1 ORDER BY priority`,
        [account],
      )
    ).rows;
  const claimsAre = (account: string, n: number) =>
    eventually(async () => (await claims(account)).length === n, {
      timeoutMs: 10_000,
      intervalMs: 20,
      what: `${n} claims of waiters of account ${account}`,
    });

  before(async () => {
    db = await createTestDatabase('sf_permits');
    await (await PgStore.open(db.url)).close(); // the migrations
    admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
  });
  after(async () => {
    for (const permits of opened) await permits.close();
    await admin.end();
    await db.drop();
  });

  it('never holds more than the limit across four holders, and reaches it', async () => {
    const holders = await Promise.all([open(3), open(3), open(3), open(3)]);
    let dbPeak = 0;
    let watching = true;
    // The database's own count, sampled while the holders contend.
    const watcher = (async () => {
      while (watching) dbPeak = Math.max(dbPeak, (await rows('shared')).filter((r) => r.live).length);
    })();
    const result = await contend(holders, 'shared', 120);
    watching = false;
    await watcher;
    assert.deepEqual(result, { peak: 3, held: 0 });
    assert.ok(dbPeak <= 3, `the database saw ${dbPeak} live leases at once`);
    assert.equal((await rows('shared')).length, 0, 'every lease deleted on release');
  });

  it("reclaims a dead holder's expired leases, and keeps a live holder's leases past their first expiry", async () => {
    const permits = await open(2, 600);
    // A worker SIGKILLed while holding the whole plan: its rows stay, unrenewed.
    await admin.query(
      `INSERT INTO scrapeflow_plan_leases (lease_id, account, holder, expires_at)
       VALUES ('dead/1', 'reclaim', 'dead', now() + interval '800 milliseconds'),
              ('dead/2', 'reclaim', 'dead', now() + interval '800 milliseconds')`,
    );
    const release = await permits.acquire('reclaim');
    const held = await rows('reclaim');
    assert.ok(
      !held.some((r) => r.holder === 'dead' && r.live),
      'the permit came only once the dead lease expired',
    );
    assert.equal(held.filter((r) => r.holder === permits.holder).length, 1);

    // A live holder renews: after three lease lengths its lease is still there, and another holder at
    // the limit still waits.
    const other = await open(2, 600);
    const second = await permits.acquire('reclaim');
    let waiting = true;
    const third = other.acquire('reclaim').finally(() => (waiting = false));
    const { rows: before } = await admin.query<{ at: Date }>(
      `SELECT max(expires_at) AS at FROM scrapeflow_plan_leases WHERE holder = $1`,
      [permits.holder],
    );
    await eventually(
      async () => {
        const { rows: now } = await admin.query<{ ahead: boolean }>(
          `SELECT min(expires_at) > $2::timestamptz + interval '1200 milliseconds' AS ahead
           FROM scrapeflow_plan_leases WHERE holder = $1`,
          [permits.holder, before[0]!.at],
        );
        return now[0]?.ahead === true;
      },
      { timeoutMs: 10_000, intervalMs: 50, what: 'the held leases renewed past two lease lengths' },
    );
    assert.ok(waiting, 'the other holder still waits: renewed leases are not free');
    await release();
    await (
      await third
    )();
    await second();
    assert.equal((await rows('reclaim')).length, 0);
  });

  it('gives the permit back when the call fails, and a cancelled wait holds nothing', async () => {
    const permits = await open(1);
    await assert.rejects(
      withPermit(permits, 'errors', {}, async () => {
        assert.equal((await rows('errors')).length, 1);
        throw new Error('the call failed');
      }),
      /the call failed/,
    );
    assert.equal((await rows('errors')).length, 0);

    const holding = await permits.acquire('errors');
    const abort = new AbortController();
    const waiting = permits.acquire('errors', { signal: abort.signal });
    await claimsAre('errors', 1);
    abort.abort();
    await assert.rejects(waiting, AbortedError);
    await claimsAre('errors', 0);
    await holding();
    await eventually(async () => (await rows('errors')).length === 0, {
      timeoutMs: 5000,
      intervalMs: 20,
      what: 'no lease left for the cancelled waiter',
    });
    await (
      await permits.acquire('errors')
    )();
  });

  it("a closing holder deletes its leases and refuses its waiters; one account's plan is not another's", async () => {
    const permits = await open(1);
    const other = await open(1);
    await permits.acquire('x');
    await (
      await other.acquire('y')
    )();
    const refused = assert.rejects(permits.acquire('x'), /closed/);
    await permits.close();
    await refused;
    assert.equal((await rows('x')).length, 0);
    await (
      await other.acquire('x')
    )();
  });

  it('holds each account to its own limit across holders', async () => {
    const plans: Record<string, number> = { small: 1, big: 3 };
    const limit = (account: string) => plans[account] ?? 0;
    const [a, b] = await Promise.all([open(limit), open(limit)]);
    // Each account's whole plan held across the two holders; one more call of each waits.
    const big = [await a.acquire('big'), await b.acquire('big'), await a.acquire('big')];
    const small = [await b.acquire('small')];
    const bigWaiting = a.acquire('big');
    const smallWaiting = a.acquire('small');
    await claimsAre('big', 1);
    await claimsAre('small', 1);
    assert.equal(await a.liveLeases('big'), 3);
    assert.equal(await a.liveLeases('small'), 1);
    await big[0]!();
    await small[0]!();
    for (const release of [await bigWaiting, await smallWaiting, ...big.slice(1)]) await release();
    const [smallPeak, bigPeak] = await Promise.all([
      contend([a, b], 'small', 20),
      contend([a, b], 'big', 40),
    ]);
    assert.ok(smallPeak.peak <= 1 && bigPeak.peak <= 3, JSON.stringify({ smallPeak, bigPeak }));
    await assert.rejects(a.acquire('nobody'), /of account "nobody" must be an integer/);
  });

  it('gives a freed permit to the most urgent waiter, across holders and within one', async () => {
    const [a, b, c] = await Promise.all([open(1), open(1), open(1)]);
    const order: string[] = [];
    const wait = (permits: PgPermits, name: string, priority: number) =>
      permits.acquire('urgent', { priority }).then((release) => (order.push(name), release));

    /** Releases the first waiter served as soon as it is, then the others. */
    const serveAll = async (...waiting: Array<Promise<ReleasePermit>>) => {
      await (
        await Promise.race(waiting)
      )();
      for (const release of await Promise.all(waiting)) await release();
    };

    let holding = await a.acquire('urgent');
    const p3 = wait(b, 'b3', 3);
    await claimsAre('urgent', 1);
    const p1 = wait(c, 'c1', 1);
    await claimsAre('urgent', 2);
    await holding();
    await serveAll(p3, p1);
    assert.deepEqual(order, ['c1', 'b3']);

    holding = await a.acquire('urgent');
    const q3 = wait(a, 'a3', 3);
    const q1 = wait(a, 'a1', 1);
    await holding();
    await serveAll(q3, q1);
    assert.deepEqual(order.slice(2), ['a1', 'a3']);
    assert.equal((await claims('urgent')).length, 0, 'every claim withdrawn once served');
  });

  it("a dead process's urgent claim stops blocking others once it expires", async () => {
    const permits = await open(1, 600);
    // A worker SIGKILLed while a priority-1 call waited: its claim stays, unrenewed.
    await admin.query(
      `INSERT INTO scrapeflow_plan_waiters (waiter_id, account, holder, priority, expires_at)
       VALUES ('dead/w/1', 'claimed', 'dead', 1, now() + interval '800 milliseconds')`,
    );
    const release = await permits.acquire('claimed', { priority: 3 });
    assert.ok(
      !(await claims('claimed')).some((c) => c.holder === 'dead' && c.live),
      'the free permit came only once the urgent claim expired',
    );
    await release();
    assert.equal((await claims('claimed')).length, 0, 'the expired claim deleted');
  });

  it("counts an account's browser sessions apart from its plan, each across holders", async () => {
    const plan = await open(1);
    const [sessionsA, sessionsB] = await Promise.all([open(1, 3000, 'browser'), open(1, 3000, 'browser')]);
    // The plan's one permit held does not hold a session, nor the reverse.
    const call = await plan.acquire('both');
    const session = await sessionsA.acquire('both');
    assert.deepEqual([await plan.liveLeases('both'), await sessionsA.liveLeases('both')], [1, 1]);
    assert.equal((await rows('both')).length, 1, "the plan's rows keep the account's bare name");
    // Another browser worker's session waits, and the release of the first wakes it.
    const next = sessionsB.acquire('both');
    await eventually(
      async () =>
        (await admin.query(`SELECT 1 FROM scrapeflow_plan_waiters WHERE account LIKE 'browser%both'`))
          .rowCount === 1,
      { timeoutMs: 10_000, intervalMs: 20, what: 'the waiting session claim' },
    );
    await session();
    await (
      await next
    )();
    assert.deepEqual([await plan.liveLeases('both'), await sessionsA.liveLeases('both')], [1, 0]);
    await call();
  });
});

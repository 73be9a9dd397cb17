/**
 * The scrape activity on its own, without a Temporal server: `MockActivityEnvironment` gives it the
 * attempt number, the real OmniScrape client calls the local API over HTTP (fault rules make it answer
 * 429, 5xx, 401, 402 or success:false), and a filesystem store takes the records. What is checked is
 * the one bridge from the error matrix to Temporal — the failure's type, whether it is retryable, its
 * `nextRetryDelay`, the outcome its details give the page workflow — and the record logic: one
 * terminal record per URL, a dead letter kept with the API's answer, a retry that finds its URL
 * already recorded calls nothing.
 */
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createScrapeActivities } from '../../src/activities/scrape.js';
import type { FailureDetails } from '../../src/activities/failures.js';
import { parseBatchOptions } from '../../src/batch/options.js';
import { startDemoSite, type DemoSite } from '../../devkit/demo-site/index.js';
import { startLocalApi, type LocalApiHandle } from '../../devkit/local-api/index.js';
import { faultRuleSchema, type FaultRuleInput } from '../../devkit/local-api/faults.js';
import { createLogger } from '../../src/logging/logger.js';
import { OmniScrapeClient } from '../../src/omniscrape/client.js';
import { FsStore } from '../../src/store/fs-store.js';
import type { UrlSummary, UrlTask } from '../../src/workflows/types.js';

const KEY = 'sk-activity-test-key';
const RETRY_AFTER_SEC = 3;
let api: LocalApiHandle;
let demo: DemoSite;
let client: OmniScrapeClient;
let store: FsStore;
let dir: string;
let activities: ReturnType<typeof createScrapeActivities>;
let nextIndex = 0;

before(async () => {
  [api, demo] = await Promise.all([
    startLocalApi({
      accounts: [{ id: 'test', key: KEY, balance: 1000, concurrency: 5 }],
      retryAfterSec: RETRY_AFTER_SEC,
    }),
    startDemoSite(),
  ]);
  dir = await mkdtemp(join(tmpdir(), 'scrapeflow-scrape-activity-'));
  store = await FsStore.open(dir);
  client = new OmniScrapeClient({ baseUrl: api.url, apiKey: KEY });
  activities = createScrapeActivities({
    api: client,
    store,
    logger: createLogger({ name: 'test', level: 'silent' }),
  });
});
after(async () => {
  await client?.close();
  await api?.close();
  await demo?.close();
  await rm(dir, { recursive: true, force: true });
});
beforeEach(() => api.state.faults.remove());

/** A URL of its own (a fault rule matches it alone), as a page workflow hands it to the activity. */
function task(options: Record<string, unknown> = {}): UrlTask {
  const index = nextIndex++;
  return {
    batchId: 'activity-test',
    item: { index, url: `${demo.origin}/p/${index + 1}` },
    options: parseBatchOptions({ mode: 'fast', ...options }),
  };
}

const scrapeCalls = () => api.state.counters.snapshot().endpoints.scrape;
const totalCalls = () => Object.values(scrapeCalls()).reduce((a, b) => a + b, 0);

/** Runs `scrapeUrl` as try `attempt`. */
function scrape(input: UrlTask, attempt: number): Promise<UrlSummary> {
  const run = (task: UrlTask) => activities.scrapeUrl(task);
  return new MockActivityEnvironment({ attempt }).run<[UrlTask], UrlSummary, typeof run>(run, input);
}

/** Runs `scrapeUrl` as try `attempt` and returns the ApplicationFailure it throws. */
async function failureOf(input: UrlTask, attempt: number): Promise<ApplicationFailure> {
  try {
    await scrape(input, attempt);
  } catch (err) {
    assert.ok(err instanceof ApplicationFailure, `an ApplicationFailure, got ${String(err)}`);
    return err;
  }
  assert.fail('the activity should have failed');
}

function fault(input: UrlTask, rule: Omit<FaultRuleInput, 'match'>): void {
  api.state.faults.add([faultRuleSchema.parse({ match: input.item.url, ...rule })]);
}

const outcomeOf = (failure: ApplicationFailure) => (failure.details?.[0] as FailureDetails).outcome;

describe('scrape activity: the error matrix as Temporal sees it', () => {
  it('429: retryable, no sooner than Retry-After; a failure once the tries are spent', async () => {
    const input = task();
    fault(input, { action: 'status', status: 429 });
    const first = await failureOf(input, 1);
    assert.equal(first.type, 'RateLimitedError');
    assert.equal(first.nonRetryable, false);
    assert.ok(Number(first.nextRetryDelay) >= RETRY_AFTER_SEC * 1000, String(first.nextRetryDelay));
    const last = await failureOf(input, input.options.retry.rateLimitMaxTries);
    assert.equal(last.nonRetryable, true);
    assert.equal(outcomeOf(last), 'fail');
    assert.equal(await store.getResult(input.batchId, input.item.index), undefined, 'the page records it');
  });

  it('5xx: retried upstreamRetries times upstreamDelayMs apart, then fails', async () => {
    const input = task({ retry: { upstreamRetries: 3, upstreamDelayMs: 700 } });
    fault(input, { action: 'status', status: 503 });
    for (const attempt of [1, 2, 3]) {
      const failure = await failureOf(input, attempt);
      assert.equal(failure.type, 'UpstreamError');
      assert.equal(failure.nonRetryable, false, `try ${attempt}`);
      assert.equal(failure.nextRetryDelay, 700);
    }
    const fourth = await failureOf(input, 4);
    assert.equal(fourth.nonRetryable, true);
    assert.equal(outcomeOf(fourth), 'fail');
  });

  it('401 and 402 are never retried: the page pauses the batch (auth, balance)', async () => {
    const auth = task();
    fault(auth, { action: 'status', status: 401 });
    const unauthorized = await failureOf(auth, 1);
    assert.deepEqual([unauthorized.type, unauthorized.nonRetryable], ['AuthError', true]);
    assert.equal(outcomeOf(unauthorized), 'pause_auth');
    const balance = task();
    fault(balance, { action: 'status', status: 402 });
    const exhausted = await failureOf(balance, 1);
    assert.deepEqual([exhausted.type, exhausted.nonRetryable], ['BalanceExhaustedError', true]);
    assert.equal(outcomeOf(exhausted), 'pause_balance');
  });
});

describe('scrape activity: records', () => {
  it("success: one record with the call's charge and method; a retry finds it and calls nothing", async () => {
    const input = task();
    const before = totalCalls();
    const summary = await scrape(input, 1);
    assert.equal(summary.status, 'succeeded');
    assert.equal(totalCalls(), before + 1);
    const record = await store.getResult(input.batchId, input.item.index);
    assert.equal(record?.status, 'succeeded');
    assert.equal(record?.attempts, 1);
    assert.ok((record?.charged ?? 0) > 0, 'charged');
    assert.equal(record?.charged, summary.charged);
    // The first try's completion was lost (a worker died after writing the record): try 2 must not pay again.
    const again = await scrape(input, 2);
    assert.deepEqual(again, summary);
    assert.equal(totalCalls(), before + 1, 'no second call');
  });

  it("success:false: dead-lettered on the first try, with the API's answer kept and never retried", async () => {
    const input = task();
    fault(input, { action: 'success_false' });
    const summary = await scrape(input, 1);
    assert.equal(summary.status, 'dead_lettered');
    const record = await store.getResult(input.batchId, input.item.index);
    assert.equal(record?.status, 'dead_lettered');
    assert.equal(record?.reason, 'scrape_failed');
    assert.equal((record?.response as { success?: boolean } | undefined)?.success, false);
  });
});

/**
 * Issue 6 end to end, on one stack (a real dev server, local API, demo site and a worker process with
 * payload encryption, a metrics endpoint, a low-balance threshold and a local webhook): the cost log
 * lines, the metrics against the local API's counters, the low-balance event at ALERT_WEBHOOK_URL, `scrapeflow costs`, and
 * histories that hold no plaintext URL or content while the codec server decodes them.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import type { Payload } from '@temporalio/common';
import { startBatch } from '../../src/client/batches.js';
import type { BatchOptionsInput } from '../../src/batch/options.js';
import { encryptedDataConverter } from '../../src/codec/data-converter.js';
import { EncryptionCodec } from '../../src/codec/encryption-codec.js';
import { startCodecServer, type RunningCodecServer } from '../../src/codec/server.js';
import { Authenticator } from '../../src/auth/authenticator.js';
import type { ResultRecord } from '../../src/store/types.js';
import type { BatchProgress } from '../../src/workflows/types.js';
import { containsText, eventually, startStack, type Stack, type WorkerProcess } from '../support/stack.js';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.js';
import { BIN } from '../support/cli.js';

const KEY = { id: 'ops-2025', key: randomBytes(32) };
const KEYS_ENV = `${KEY.id}:${KEY.key.toString('base64')}`;
const THRESHOLD = 25;
const CODEC_TOKEN = randomBytes(24).toString('hex');

const OPTIONS: BatchOptionsInput = {
  mode: 'fast',
  concurrency: 3,
  tags: ['ops'],
  retry: { rateLimitBaseMs: 100 },
  timeouts: { scrapeMs: 5000, heartbeatMs: 3000 },
};

let stack: Stack;
let worker: WorkerProcess;
let webhook: WebhookReceiver;
let codecServer: RunningCodecServer;
let batchId: string;
let final: BatchProgress;
const page = (n: number) => `${stack.demoOrigin}/p/${n}`;

type Line = Record<string, unknown>;
const parsed = (w: WorkerProcess): Line[] => w.lines.map((l) => JSON.parse(l) as Line);
const callLines = (w: WorkerProcess) => parsed(w).filter((l) => l.event === 'omniscrape_call');

async function records(id: string): Promise<ResultRecord[]> {
  const out: ResultRecord[] = [];
  for await (const r of stack.store.listResults(id)) out.push(r);
  return out;
}

/** `name{labels} value` lines of a Prometheus page, keyed by `name{labels}`. */
function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (m?.[1] && m[2]) out.set(m[1], Number(m[2]));
  }
  return out;
}

before(async () => {
  webhook = await startWebhookReceiver();
  stack = await startStack({
    concurrency: 3,
    balance: 30,
    workerEnv: {
      SCRAPEFLOW_METRICS_PORT: '0',
      SCRAPEFLOW_METRICS_HOST: '127.0.0.1',
      LOW_BALANCE_THRESHOLD: String(THRESHOLD),
      ALERT_WEBHOOK_URL: webhook.url,
      // The receiver is local: the webhook SSRF guard refuses loopback addresses unless allowed.
      SCRAPEFLOW_WEBHOOK_ALLOW_HOSTS: '127.0.0.1',
      SCRAPEFLOW_ENCRYPTION_KEYS: KEYS_ENV,
      TEMPORAL_LOG_LEVEL: 'INFO',
    },
    clientDataConverter: encryptedDataConverter(new EncryptionCodec([KEY])),
  });
  codecServer = await startCodecServer({
    codec: new EncryptionCodec([KEY]),
    auth: new Authenticator({ adminToken: CODEC_TOKEN }),
    port: 0,
  });
  worker = await stack.startWorker();
  await stack.admin('POST', '/admin/faults', {
    rules: [
      { id: '429-twice', match: page(2), action: 'status', status: 429, retryAfterSec: 0, first: 2 },
      { id: 'false', match: page(5), action: 'success_false' },
    ],
  });
  // 8 URLs: 7 charged 1 credit each (30 -> 23, crossing the threshold of 25 once), one dead-lettered.
  const started = await startBatch(stack.client, stack.store, {
    batchId: 'ops-1',
    urls: Array.from({ length: 8 }, (_, i) => ({ url: page(i + 1), ...(i % 2 ? { tags: ['sale'] } : {}) })),
    options: OPTIONS,
  });
  batchId = started.batchId;
  final = (await started.handle.result()) as BatchProgress;
  const calls = () =>
    Object.values(stack.api.state.counters.snapshot().endpoints.scrape).reduce((a, b) => a + b, 0);
  await eventually(() => Promise.resolve(callLines(worker).length === calls() || undefined), {
    timeoutMs: 10_000,
    what: 'one log line per OmniScrape call',
  });
});
after(async () => {
  await codecServer?.close();
  await stack?.stop();
  await webhook?.close();
});

describe('operations: cost logs, metrics, alerts, costs and encryption (one stack)', () => {
  it('the batch completed: 7 succeeded, 1 dead-lettered', () => {
    assert.equal(final.state, 'completed');
    assert.deepEqual(final.counts, { succeeded: 7, failed: 0, dead_lettered: 1, in_flight: 0, pending: 0 });
  });

  it('logs one JSON line per OmniScrape call with every cost field; no key; SDK logs in the same logger', () => {
    const lines = callLines(worker);
    const scrape = stack.api.state.counters.snapshot().endpoints.scrape;
    assert.equal(
      lines.length,
      (scrape['200_success'] ?? 0) + (scrape['200_failed'] ?? 0) + (scrape['429'] ?? 0),
    );
    for (const l of lines) {
      assert.equal(typeof l.time, 'string');
      assert.equal(l.batchId, batchId);
      assert.equal(l.call, 'scrape');
      assert.equal(l.account, 'default');
      assert.equal(typeof l.url, 'string');
      assert.equal(typeof l.index, 'number');
      assert.ok(Array.isArray(l.tags) && l.tags.includes('ops'));
      assert.equal(typeof l.attempt, 'number');
      assert.equal(typeof l.duration_ms, 'number');
      assert.equal(typeof l.charged, 'number');
      for (const field of ['success', 'method_used', 'solver_used', 'challenge_solved', 'balance_after'])
        assert.ok(field in l, `${field} is present (null when unknown)`);
    }
    const ok = lines.filter((l) => l.outcome === 'success');
    assert.equal(ok.length, 7);
    for (const l of ok) {
      assert.equal(l.success, true);
      assert.equal(l.method_used, 'fast');
      assert.equal(l.solver_used, false);
      assert.equal(l.charged, 1);
      assert.equal(typeof l.balance_after, 'number');
    }
    assert.deepEqual(
      ok.map((l) => l.balance_after).sort((a, b) => Number(b) - Number(a)),
      [29, 28, 27, 26, 25, 24, 23],
    );
    const limited = lines.filter((l) => l.url === page(2));
    assert.deepEqual(
      limited.map((l) => [l.attempt, l.outcome, l.status]),
      [
        [1, 'rate_limited', 429],
        [2, 'rate_limited', 429],
        [3, 'success', null],
      ],
    );
    assert.ok(lines.find((l) => l.url === page(2) && l.attempt === 1)?.tags, 'item tags are merged');
    const dead = lines.find((l) => l.url === page(5));
    assert.equal(dead?.outcome, 'scrape_failed');
    assert.equal(dead?.success, false);
    assert.equal(dead?.charged, 0);
    assert.ok(!worker.lines.some((l) => l.includes(stack.apiKey)), 'the API key never appears');
    assert.ok(!worker.lines.some((l) => l.includes('/hook/secret-token')), 'the webhook URL is redacted');
    assert.ok(
      parsed(worker).some((l) => l.component === 'temporal-sdk' && l.name === 'workflows-scrape-worker'),
      'the Temporal SDK logs through the same pino logger',
    );
  });

  it('delivers exactly one account.low_balance event to ALERT_WEBHOOK_URL, with account, balance, threshold, batch, time', async () => {
    const lowBalance = () => webhook.received.filter((e) => e.type === 'account.low_balance');
    const [event] = await eventually(() => Promise.resolve(lowBalance().length ? lowBalance() : undefined), {
      timeoutMs: 20_000,
      what: 'the account.low_balance event',
    });
    const data = event?.data as Record<string, unknown> | undefined;
    assert.equal(data?.account, 'default');
    assert.ok(Number(data?.balance) < THRESHOLD && Number(data?.balance) >= 23);
    assert.equal(data?.threshold, THRESHOLD);
    assert.equal(data?.batchId, batchId);
    assert.ok(!Number.isNaN(Date.parse(String(event?.timestamp))));
    assert.equal(parsed(worker).filter((l) => l.event === 'low_balance').length, 1);
    assert.equal(new Set(lowBalance().map((e) => e.id)).size, 1);
  });

  it("serves Prometheus metrics whose counters match the local API's counters", async () => {
    const listening = parsed(worker).find((l) => l.event === 'metrics_listening');
    assert.ok(listening, 'the worker logs its metrics URL');
    const res = await fetch(String(listening.url));
    assert.equal(res.status, 200);
    const text = await res.text();
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
    const m = parseMetrics(text);
    const api = stack.api.state.counters.snapshot();
    const scrape = api.endpoints.scrape;
    assert.equal(m.get('scrapeflow_scrapes_total{call="scrape",outcome="success"}'), scrape['200_success']);
    assert.equal(
      m.get('scrapeflow_scrapes_total{call="scrape",outcome="scrape_failed"}'),
      scrape['200_failed'],
    );
    assert.equal(m.get('scrapeflow_scrapes_total{call="scrape",outcome="rate_limited"}'), scrape['429']);
    assert.equal(m.get('scrapeflow_rate_limited_total{call="scrape"}'), scrape['429']);
    assert.equal(m.get('scrapeflow_retries_total{call="scrape"}'), 2);
    assert.equal(
      m.get('scrapeflow_credits_charged_total{method="fast",account="default"}'),
      api.credits.charged_total,
    );
    assert.equal(m.get('scrapeflow_balance_credits{account="default"}'), 30 - api.credits.charged_total);
    assert.equal(m.get('scrapeflow_omniscrape_in_flight{call="scrape"}'), 0);
    assert.match(text, /^temporal_\w+/m, "the Temporal runtime's own metrics are on the same page");
  });

  it('`scrapeflow costs --json` reports total (= sum of per-URL charges), byMethod and byTag', async () => {
    const rs = await records(batchId);
    assert.equal(rs.length, 8);
    const sum = rs.reduce((s, r) => s + r.charged, 0);
    assert.equal(sum, 7);
    for (const r of rs) assert.ok(r.attempts >= 1, 'every record carries its attempts');
    const { stdout } = await promisify(execFile)(process.execPath, [BIN, 'costs', batchId, '--json'], {
      env: {
        PATH: process.env.PATH ?? '',
        TEMPORAL_ADDRESS: stack.temporal.address,
        SCRAPEFLOW_DATA_DIR: stack.dataDir,
        SCRAPEFLOW_ENCRYPTION_KEYS: KEYS_ENV,
      },
    });
    const costs = JSON.parse(stdout) as {
      total: number;
      byMethod: Record<string, number>;
      byTag: Record<string, number>;
    };
    assert.equal(costs.total, sum);
    assert.deepEqual(costs.byMethod, { fast: sum });
    const saleSum = rs.filter((r) => r.tags?.includes('sale')).reduce((s, r) => s + r.charged, 0);
    assert.deepEqual(costs.byTag, { ops: sum, sale: saleSum });
  });

  const histories = async () => {
    // The batch and its one page (8 lines < the default page size).
    const ids = [batchId, `${batchId}/p0`];
    return Promise.all(ids.map((id) => stack.client.workflow.getHandle(id).fetchHistory()));
  };
  /** The value without its `searchAttributes` (which payload codecs never encrypt; the next test checks them). */
  const withoutSearchAttributes = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(withoutSearchAttributes);
    if (value === null || typeof value !== 'object' || value instanceof Uint8Array) return value;
    return Object.fromEntries(
      Object.entries(value)
        .filter(([k]) => k !== 'searchAttributes')
        .map(([k, v]) => [k, withoutSearchAttributes(v)]),
    );
  };

  it('with encryption on, histories hold no plaintext URL or content; the codec server decodes them', async () => {
    const all = await histories();
    const host = new URL(stack.demoOrigin).host;
    for (const h of all) {
      const events = h.events ?? [];
      for (const needle of [host, 'SKU-0000', 'Product ']) {
        const leaks = events
          .filter((e) => containsText(withoutSearchAttributes(e), needle))
          .map((e) => e.eventType);
        assert.deepEqual(leaks, [], `no ${JSON.stringify(needle)} (URL or page content) in any event`);
      }
    }
    // The first URL's activity (id = its index) carries it only encrypted, and no summary.
    const scheduled = all[1]?.events?.find((e) => e.activityTaskScheduledEventAttributes?.activityId === '0');
    assert.equal(scheduled?.activityTaskScheduledEventAttributes?.activityType?.name, 'scrapeUrl');
    assert.equal(scheduled?.userMetadata?.summary, undefined, 'no URL summary when payloads are encrypted');
    const child = scheduled?.activityTaskScheduledEventAttributes?.input?.payloads ?? [];
    assert.ok(child.length > 0);
    const meta = (p: Payload, k: string) => Buffer.from(p.metadata?.[k] ?? []).toString();
    assert.equal(meta(child[0] as Payload, 'encoding'), 'binary/encrypted');
    assert.equal(meta(child[0] as Payload, 'encryption-key-id'), KEY.id);
    const res = await fetch(`${codecServer.url}/decode`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-namespace': 'default',
        authorization: `Bearer ${CODEC_TOKEN}`,
      },
      body: JSON.stringify({
        payloads: child.map((p) => ({
          metadata: Object.fromEntries(
            Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
          ),
          data: Buffer.from(p.data ?? []).toString('base64'),
        })),
      }),
    });
    assert.equal(res.status, 200);
    const decoded = (await res.json()) as { payloads: { data: string }[] };
    const input = JSON.parse(Buffer.from(decoded.payloads[0]?.data ?? '', 'base64').toString()) as {
      item: { url: string };
    };
    assert.equal(input.item.url, page(1));
  });

  it('with encryption on, no URL search attribute is written either', async () => {
    const host = new URL(stack.demoOrigin).host;
    for (const h of await histories()) assert.equal(containsText(h.events ?? [], host), false);
  });
});

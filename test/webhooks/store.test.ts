/**
 * The webhook outbox on both stores, one contract: a record is idempotent by id (first timestamp,
 * sequence and data kept), sequences are gap-free per subject under concurrent records, each event fans
 * out to the enabled endpoints of its account whose patterns match, and claims respect the in-flight
 * cap, one subject's order and leases. Files are 0600 in 0700 directories.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EventDraft } from '../../src/events/types.js';
import { PgStore } from '../../src/store/pg-store.js';
import { FsWebhookStore } from '../../src/webhooks/fs-store.js';
import { newEndpointId } from '../../src/webhooks/manage.js';
import { webhookStoreOf } from '../../src/webhooks/store.js';
import type { EndpointRecord, WebhookStore } from '../../src/webhooks/types.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

let dir: string;
let db: TestDatabase;
let pgStore: PgStore;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'webhooks-store-'));
  db = await createTestDatabase('sf_webhooks');
  pgStore = await PgStore.open(db.url);
});
after(async () => {
  await pgStore?.close();
  await db?.drop();
  await rm(dir, { recursive: true, force: true });
});

const T0 = new Date('2026-03-01T00:00:00Z');
const at = (ms: number) => new Date(T0.getTime() + ms);

function endpoint(over: Partial<EndpointRecord>): EndpointRecord {
  return {
    id: newEndpointId(),
    url: 'https://example.com/hook',
    events: [],
    allowHttp: false,
    enabled: true,
    createdAt: T0.toISOString(),
    secrets: [{ secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' }],
    ...over,
  };
}

const draft = (
  id: string,
  subject: string,
  type: EventDraft['type'] = 'batch.page.completed',
  account = 'acme',
): EventDraft => ({
  id,
  type,
  account,
  subject,
  data: { batchId: subject, n: id },
});

async function contract(store: WebhookStore): Promise<void> {
  const acmeBatch = endpoint({ account: 'acme', events: ['batch.*'] });
  const everyone = endpoint({});
  const globex = endpoint({ account: 'globex' });
  const off = endpoint({ account: 'acme', enabled: false });
  const completedOnly = endpoint({ account: 'acme', events: ['batch.completed'] });
  for (const e of [acmeBatch, everyone, globex, off, completedOnly]) await store.createEndpoint(e);
  assert.equal((await store.listEndpoints()).length, 5);

  // Idempotent by id: the second record keeps the first timestamp, sequence and data.
  await store.record([draft('b1.started', 'b1', 'batch.started')], at(0));
  await store.record([{ ...draft('b1.started', 'b1', 'batch.started'), data: { other: true } }], at(5000));
  const [started] = await store.deliveries({ eventId: 'b1.started', endpointId: acmeBatch.id });
  assert.equal(started?.sequence, 1);
  const body = (await store.claim('h', at(0), 60_000, 4, 100)).find((c) => c.eventId === 'b1.started');
  assert.deepEqual(JSON.parse(body!.body), {
    id: 'b1.started',
    type: 'batch.started',
    timestamp: T0.toISOString(),
    sequence: 1,
    data: { batchId: 'b1', n: 'b1.started' },
  });

  // Fan-out: acme's batch event goes to acme's batch.* endpoint and the every-account one only.
  assert.deepEqual(
    (await store.deliveries({ eventId: 'b1.started' })).map((d) => d.endpointId).sort(),
    [acmeBatch.id, everyone.id].sort(),
  );
  await store.record([draft('b1.completed', 'b1', 'batch.completed')], at(0));
  assert.deepEqual(
    (await store.deliveries({ eventId: 'b1.completed' })).map((d) => d.endpointId).sort(),
    [acmeBatch.id, everyone.id, completedOnly.id].sort(),
  );
  await store.record([draft('low', 'account:globex', 'account.low_balance', 'globex')], at(0));
  assert.deepEqual(
    (await store.deliveries({ eventId: 'low' })).map((d) => d.endpointId).sort(),
    [everyone.id, globex.id].sort(),
  );

  // Gap-free under concurrent records of one subject (duplicates included): 1..30, each id once.
  const ids = Array.from({ length: 30 }, (_, i) => `b2/p${i}.completed`);
  await Promise.all([
    ...ids.map((id) => store.record([draft(id, 'b2')], at(0))),
    ...ids.slice(0, 10).map((id) => store.record([draft(id, 'b2')], at(0))),
  ]);
  const b2 = await store.deliveries({ endpointId: acmeBatch.id, limit: 1000 });
  const sequences = b2
    .filter((d) => d.subject === 'b2')
    .map((d) => d.sequence)
    .sort((a, b) => a - b);
  assert.deepEqual(
    sequences,
    Array.from({ length: 30 }, (_, i) => i + 1),
  );

  // Claims: a fresh holder at a later time (the first claim's leases run out at 60 s).
  const later = at(120_000);
  const claimed = await store.claim('h1', later, 10_000, 4, 100);
  const of = (id: string) => claimed.filter((c) => c.endpointId === id);
  // Per endpoint: of each subject the earliest pending only, at most 4 in flight.
  assert.deepEqual(
    of(acmeBatch.id)
      .map((c) => `${c.subject}#${c.sequence}`)
      .sort(),
    ['b1#1', 'b2#1'],
  );
  assert.deepEqual(
    of(everyone.id)
      .map((c) => `${c.subject}#${c.sequence}`)
      .sort(),
    ['account:globex#1', 'b1#1', 'b2#1'],
  );
  assert.equal(of(off.id).length, 0, 'a disabled endpoint is not claimed');
  // Leased: no second claim gets them while the lease holds.
  assert.equal((await store.claim('h2', at(121_000), 10_000, 4, 100)).length, 0);
  // Delivered: the subject's next one becomes claimable.
  const first = of(acmeBatch.id).find((c) => c.subject === 'b2')!;
  await store.complete(first.eventId, first.endpointId, 'h1', {
    attempt: { at: later.toISOString(), status: 200, latencyMs: 3 },
    status: 'delivered',
  });
  const next = await store.claim('h1', at(121_000), 10_000, 4, 100);
  assert.deepEqual(
    next.map((c) => `${c.endpointId === acmeBatch.id}:${c.subject}#${c.sequence}`),
    ['true:b2#2'],
  );
  // A try of another holder does not count; its lease ran out, so another holder claims it.
  await store.complete(next[0]!.eventId, acmeBatch.id, 'someone-else', {
    attempt: { at: later.toISOString(), status: 200, latencyMs: 1 },
    status: 'delivered',
  });
  const reclaimed = await store.claim('h3', at(200_000), 10_000, 4, 100);
  assert.ok(reclaimed.some((c) => c.endpointId === acmeBatch.id && c.subject === 'b2' && c.sequence === 2));

  // In-flight cap of 2 over many subjects.
  const capped = endpoint({ account: 'initech' });
  await store.createEndpoint(capped);
  await store.record(
    Array.from({ length: 6 }, (_, i) => draft(`s${i}.started`, `s${i}`, 'batch.started', 'initech')),
    at(0),
  );
  assert.equal(
    (await store.claim('h4', at(300_000), 10_000, 2, 100)).filter((c) => c.endpointId === capped.id).length,
    2,
  );
  assert.equal(
    (await store.claim('h5', at(301_000), 10_000, 2, 100)).filter((c) => c.endpointId === capped.id).length,
    0,
  );

  // The attempts log, a retry's due time, redelivery and counts.
  const log = await store.deliveries({ eventId: first.eventId, endpointId: acmeBatch.id });
  assert.equal(log[0]?.status, 'delivered');
  assert.deepEqual(
    log[0]?.log.map((a) => a.status),
    [200],
  );
  assert.equal(await store.redeliver(first.eventId, [acmeBatch.id, completedOnly.id], at(400_000)), 2);
  const again = await store.deliveries({ eventId: first.eventId });
  // The every-account endpoint's delivery was pending already (leased, never completed).
  assert.deepEqual(
    again.map((d) => `${d.endpointId}:${d.status}:${d.attempts}`).sort(),
    [acmeBatch.id, completedOnly.id, everyone.id].map((id) => `${id}:pending:0`).sort(),
  );
  assert.equal((await store.eventInfo('low'))?.account, 'globex');
  assert.equal(await store.eventInfo('nope'), undefined);
  const counts = await store.counts();
  assert.equal(counts.disabledEndpoints, 1);
  assert.ok(counts.pending > 0 && counts.delivered === 0);

  assert.ok(await store.updateEndpoint(off.id, { enabled: true }));
  assert.equal((await store.getEndpoint(off.id))?.enabled, true);
  assert.ok(await store.removeEndpoint(globex.id));
  assert.ok(!(await store.removeEndpoint(globex.id)));
  assert.equal((await store.deliveries({ endpointId: globex.id })).length, 0);
}

describe('webhook stores', () => {
  it('files: the contract, in 0600 files of 0700 directories', async () => {
    const store = webhookStoreOf({ dataDir: dir })!;
    assert.ok(store instanceof FsWebhookStore);
    await contract(store);
    const root = join(dir, 'webhooks');
    for (const sub of ['', 'endpoints', 'events', 'subjects'])
      assert.equal((await stat(join(root, sub))).mode & 0o777, 0o700, sub);
    const endpoints = await readdir(join(root, 'endpoints'));
    assert.equal((await stat(join(root, 'endpoints', endpoints[0]!))).mode & 0o777, 0o600);
  });

  it('PostgreSQL: the contract', async () => {
    await contract(webhookStoreOf(pgStore)!);
  });
});

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { buildService } from '../../src/service/app.js';
import { ROUTES as ROUTE_TABLE } from '../../src/service/routes.js';
import { idempotencyKeyOf } from '../../src/activities/scrape.js';
import { originalOptions } from '../../src/client/redrive.js';
import { MAX_BATCH_ID_LENGTH, type ResultRecord, type ResultStore } from '../../src/store/types.js';
import type { BatchOptions } from '../../src/batch/options.js';
import type { BatchProgress } from '../../src/workflows/types.js';
import { eventually, startStack, type Stack } from '../support/stack.js';

const TOKEN = 'service-test-token-0123456789abcdef';
const logger = pino({ level: 'silent' });
let stack: Stack;
let app: FastifyInstance;
let base: string;

before(async () => {
  stack = await startStack({ concurrency: 3 });
  await stack.startWorker();
  app = await buildService({ client: stack.client, store: stack.store, token: TOKEN, logger });
  base = await app.listen({ host: '127.0.0.1', port: 0 });
});
after(async () => {
  await app?.close();
  await stack?.stop();
});

const auth = { authorization: `Bearer ${TOKEN}` };
async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = auth) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { ...headers, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    /* not JSON */
  }
  return { status: res.status, json, text, headers: res.headers };
}
const progressOf = async (id: string) =>
  (await call('GET', `/v1/batches/${id}`)).json as unknown as BatchProgress;
/**
 * The batch reached `state`; a completed one has closed too (it records batch.completed after taking the
 * state, and the routes answer an open workflow as a running batch).
 */
const settled = async (id: string, state = 'completed') => {
  await eventually(async () => (await progressOf(id)).state === state, { what: `batch ${id} ${state}` });
  if (state === 'completed') await stack.client.workflow.getHandle(id).result();
};

const ROUTES: Array<[string, string]> = [
  ['GET', '/healthz'],
  ['GET', '/openapi.json'],
  ['POST', '/v1/batches'],
  ['GET', '/v1/batches'],
  ['GET', '/v1/batches/x'],
  ['POST', '/v1/batches/x/pause'],
  ['POST', '/v1/batches/x/resume'],
  ['POST', '/v1/batches/x/cancel'],
  ['GET', '/v1/batches/x/results'],
  ['GET', '/v1/batches/x/dead-letters'],
  ['POST', '/v1/batches/x/redrive'],
  ['POST', '/v1/resume-all'],
  ['POST', '/v1/scrape'],
  ['GET', '/v1/batches/x/costs'],
  ['GET', '/metrics'],
];

describe('HTTP service', () => {
  it('answers 401 on every route without the token or with a wrong one', async () => {
    for (const [method, path] of ROUTES) {
      for (const headers of [{}, { authorization: 'Bearer wrong' }, { authorization: TOKEN }] as Array<
        Record<string, string>
      >) {
        const res = await call(method, path, method === 'POST' ? {} : undefined, headers);
        assert.equal(res.status, 401, `${method} ${path} ${JSON.stringify(headers)}`);
        assert.equal(res.json.error, 'unauthorized');
        assert.equal(res.headers.get('www-authenticate'), 'Bearer');
      }
    }
  });

  it('serves an OpenAPI document describing every route', async () => {
    const res = await call('GET', '/openapi.json');
    assert.equal(res.status, 200);
    assert.equal(res.json.openapi, '3.1.0');
    const paths = Object.keys(res.json.paths as object);
    for (const [, path] of ROUTES) assert.ok(paths.includes(path.replace('/x', '/{batchId}')), path);
    // …and serves every operation it documents (the router's own 404 is `not_found`).
    const documented = Object.entries(res.json.paths as Record<string, Record<string, unknown>>).flatMap(
      ([path, operations]) => Object.keys(operations).map((method) => [method.toUpperCase(), path] as const),
    );
    assert.equal(documented.length, ROUTE_TABLE.length, 'one operation per route of the table');
    for (const [method, path] of documented) {
      const answer = await call(
        method,
        path.replace(/\{\w+\}/g, 'no-such-thing'),
        method === 'POST' ? {} : undefined,
      );
      assert.notEqual(answer.json.error, 'not_found', `${method} ${path}: ${answer.text}`);
    }
  });

  it('validates bodies and queries with 400s naming the field', async () => {
    const cases: Array<[string, string, unknown, string]> = [
      ['POST', '/v1/batches', { urls: [] }, 'body.urls'],
      ['POST', '/v1/batches', { urls: ['ftp://x'] }, 'body.urls.0'],
      [
        'POST',
        '/v1/batches',
        { urls: ['https://a.example/'], options: { concurrency: 0 } },
        'body.options.concurrency',
      ],
      ['POST', '/v1/batches', { urls: ['https://a.example/'], batchId: '../etc' }, 'body.batchId'],
      ['POST', '/v1/batches', { urls: ['https://a.example/'], extra: 1 }, 'body'],
      ['POST', '/v1/scrape', { url: 'https://a.example/', waitMs: 10_000_000 }, 'body.waitMs'],
      ['POST', '/v1/scrape', { options: {} }, 'body.url'],
      ['GET', '/v1/batches/x/results?format=xml', undefined, 'query.format'],
      ['GET', '/v1/batches?status=odd', undefined, 'query.status'],
    ];
    for (const [method, path, body, field] of cases) {
      const res = await call(method, path, body);
      assert.equal(res.status, 400, `${path} ${JSON.stringify(body)}: ${res.text}`);
      assert.equal(res.json.field, field, res.text);
    }
    const upload = await fetch(`${base}/v1/batches`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'text/plain' },
      body: 'https://a.example/\nnot-a-url\n',
    });
    assert.equal(upload.status, 400);
    const uploadBody = (await upload.json()) as { field: string; line: number; message: string };
    assert.equal(uploadBody.line, 2);
    assert.match(uploadBody.message, /line 2/);
    const badJson = await fetch(`${base}/v1/batches`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: '{',
    });
    assert.equal(badJson.status, 400);
    assert.equal(((await badJson.json()) as { field: string }).field, 'body');
  });

  it('answers 404 for unknown batches', async () => {
    for (const [method, path] of ROUTES.filter(([, p]) => p.includes('/x')))
      assert.equal(
        (await call(method, path.replace('/x', '/no-such-batch'), method === 'POST' ? {} : undefined)).status,
        404,
        path,
      );
  });

  it('starts a batch, reports progress, exports results and dead letters, and re-drives', async () => {
    const started = await call('POST', '/v1/batches', {
      batchId: 'svc-1',
      urls: [
        `${stack.demoOrigin}/p/1`,
        { url: `${stack.demoOrigin}/p/2`, tags: ['t'] },
        `${stack.demoOrigin}/status/404`,
      ],
      options: { mode: 'fast', cssSelectors: { title: 'h1' }, outputFormat: 'css_extractor' },
    });
    assert.equal(started.status, 201, started.text);
    assert.deepEqual(started.json.total, 3);
    await settled('svc-1');
    const progress = await progressOf('svc-1');
    assert.deepEqual(progress.counts, {
      succeeded: 2,
      failed: 0,
      dead_lettered: 1,
      in_flight: 0,
      pending: 0,
    });

    const jsonl = await call('GET', '/v1/batches/svc-1/results');
    assert.match(jsonl.headers.get('content-type') ?? '', /ndjson/);
    const records = jsonl.text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as ResultRecord);
    assert.deepEqual(
      records.map((r) => r.status),
      ['succeeded', 'succeeded', 'dead_lettered'],
    );
    assert.equal(records[0]?.fields?.title, 'Product 1');
    const csv = await call('GET', '/v1/batches/svc-1/results?format=csv&status=succeeded');
    assert.equal(csv.text.trim().split('\n').length, 3);
    assert.match(csv.text, /^batchId,index,url,status/);
    const dead = await call('GET', '/v1/batches/svc-1/dead-letters');
    assert.equal(dead.text.trim().split('\n').length, 1);

    const redriven = await call('POST', '/v1/batches/svc-1/redrive', { batchId: 'svc-1-r' });
    assert.equal(redriven.status, 201, redriven.text);
    assert.equal(redriven.json.total, 1);
    await settled('svc-1-r');
    assert.deepEqual((await stack.store.getResult('svc-1', 2))?.redrivenTo, { batchId: 'svc-1-r', index: 0 });
    assert.deepEqual((await stack.store.getResult('svc-1-r', 0))?.redrivenFrom, {
      batchId: 'svc-1',
      index: 2,
    });

    const costs = await call('GET', '/v1/batches/svc-1/costs');
    assert.equal(costs.status, 200);
    assert.equal(
      costs.json.total,
      records.reduce((sum, r) => sum + r.charged, 0),
    );
    const metrics = await call('GET', '/metrics');
    assert.equal(metrics.status, 200);
    assert.match(metrics.text, /process_cpu_seconds_total/);
    assert.equal(
      (await call('POST', '/v1/batches/svc-1/redrive', {})).status,
      409,
      'nothing left to re-drive',
    );
    assert.equal((await call('POST', '/v1/batches/svc-1/pause', {})).status, 409, 'ended');

    const list = await call('GET', '/v1/batches?status=completed');
    assert.ok((list.json.batches as Array<{ batchId: string }>).some((b) => b.batchId === 'svc-1'));
  });

  it('refuses a batch id that is taken: 409 naming the state; a rejected upload writes nothing', async () => {
    const first = await call('POST', '/v1/batches', {
      batchId: 'svc-taken',
      urls: [`${stack.demoOrigin}/p/1`],
      options: { mode: 'fast', cssSelectors: { title: 'h1' }, outputFormat: 'css_extractor' },
    });
    assert.equal(first.status, 201, first.text);
    await settled('svc-taken');
    const again = await call('POST', '/v1/batches', {
      batchId: 'svc-taken',
      urls: [`${stack.demoOrigin}/p/11`],
      options: { mode: 'fast', cssSelectors: { title: 'h1' }, outputFormat: 'css_extractor' },
    });
    assert.equal(again.status, 409, again.text);
    assert.equal(again.json.error, 'batch_id_taken');
    assert.equal(again.json.field, 'batchId');
    assert.equal(again.json.state, 'completed');
    assert.match(
      String(again.json.message),
      /batch id "svc-taken" is taken \(a batch under it is completed\)/,
    );

    const upload = (batchId: string) =>
      fetch(`${base}/v1/batches?batchId=${batchId}`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'text/plain' },
        body: `${Array.from({ length: 1001 }, (_, i) => `${stack.demoOrigin}/p/${i + 100}`).join('\n')}\nnot-a-url\n`,
      });
    const onTaken = await upload('svc-taken');
    assert.equal(onTaken.status, 409);
    assert.equal(((await onTaken.json()) as { state: string }).state, 'completed');
    assert.equal(await stack.store.inputCount('svc-taken'), 1);
    assert.deepEqual(await stack.store.readInput('svc-taken', 0, 10), [
      { index: 0, url: `${stack.demoOrigin}/p/1` },
    ]);
    const records = (await call('GET', '/v1/batches/svc-taken/results')).text.trim().split('\n');
    assert.equal(records.length, 1);
    assert.equal((JSON.parse(records[0] ?? '{}') as ResultRecord).fields?.title, 'Product 1');

    const onNew = await upload('svc-fresh');
    assert.equal(onNew.status, 400);
    assert.equal(((await onNew.json()) as { line: number }).line, 1002);
    assert.equal(await stack.store.inputCount('svc-fresh'), undefined, 'nothing stored');
    const fresh = await call('POST', '/v1/batches', {
      batchId: 'svc-fresh',
      urls: [`${stack.demoOrigin}/p/2`],
    });
    assert.equal(fresh.status, 201, 'the id stayed free');
    await settled('svc-fresh');

    const redriveInto = await call('POST', '/v1/batches/svc-taken/redrive', { batchId: 'svc-fresh' });
    assert.equal(redriveInto.status, 409, redriveInto.text);
    assert.equal(redriveInto.json.error, 'batch_id_taken');
    assert.equal(await stack.store.inputCount('svc-fresh'), 1);

    // Each start scopes its URLs' idempotency keys: two batches never share one, whatever their ids.
    const scopes = await Promise.all(
      ['svc-taken', 'svc-fresh'].map(async (id) => (await originalOptions(stack.client, id)) as BatchOptions),
    );
    const keys = scopes.map((options) =>
      idempotencyKeyOf({ batchId: 'same-id', item: { index: 0, url: 'x' }, options }),
    );
    assert.match(scopes[0]?.idempotencyScope ?? '', /^[0-9a-f]{32}$/);
    assert.notEqual(keys[0], keys[1]);
    const longest = idempotencyKeyOf({
      batchId: 'x'.repeat(MAX_BATCH_ID_LENGTH),
      item: { index: 2 ** 31 - 1, url: 'x' },
      options: scopes[0] as BatchOptions,
    });
    assert.ok(longest.length <= 255, `${longest.length} characters`);
  });

  it('takes a batch id of the longest length on every route; a longer one is a 400 naming batchId', async () => {
    const id = `L${'x'.repeat(MAX_BATCH_ID_LENGTH - 1)}`;
    const started = await call('POST', '/v1/batches', {
      batchId: id,
      urls: [`${stack.demoOrigin}/p/3`, `${stack.demoOrigin}/status/404`],
      options: { mode: 'fast' },
    });
    assert.equal(started.status, 201, started.text);
    await settled(id);
    const expected: Record<string, number> = {
      [`GET /v1/batches/x`]: 200,
      [`GET /v1/batches/x/costs`]: 200,
      [`GET /v1/batches/x/results`]: 200,
      [`GET /v1/batches/x/dead-letters`]: 200,
      [`POST /v1/batches/x/pause`]: 409,
      [`POST /v1/batches/x/resume`]: 409,
      [`POST /v1/batches/x/cancel`]: 409,
    };
    for (const [method, path] of ROUTES.filter(([, p]) => p.includes('/x') && !p.endsWith('/redrive'))) {
      const res = await call(method, path.replace('/x', `/${id}`), method === 'POST' ? {} : undefined);
      assert.equal(res.status, expected[`${method} ${path}`], `${method} ${path}: ${res.text}`);
      const tooLong = await call(method, path.replace('/x', `/${id}y`), method === 'POST' ? {} : undefined);
      assert.equal(
        tooLong.status,
        400,
        `${method} ${path} with ${id.length + 1} characters: ${tooLong.text}`,
      );
      assert.equal(tooLong.json.field, 'batchId');
    }
    const tooLongStart = await call('POST', '/v1/batches', {
      batchId: `${id}y`,
      urls: [`${stack.demoOrigin}/p/3`],
    });
    assert.equal(tooLongStart.status, 400);
    assert.equal(tooLongStart.json.field, 'body.batchId');
    // The default re-drive id of the longest id fits the limit too, so its routes work.
    const redriven = await call('POST', `/v1/batches/${id}/redrive`, {});
    assert.equal(redriven.status, 201, redriven.text);
    const redriveId = String(redriven.json.batchId);
    assert.ok(redriveId.length <= MAX_BATCH_ID_LENGTH, `${redriveId.length} characters`);
    assert.match(redriveId, /-redrive-[0-9a-f]{6}$/);
    await settled(redriveId);
    assert.equal((await call('GET', `/v1/batches/${redriveId}/results`)).status, 200);
    assert.equal((await call('POST', `/v1/batches/${id}y/redrive`, {})).json.field, 'batchId');
  });

  it('starts a batch from an uploaded file, pauses, resumes and cancels it', async () => {
    const body = Array.from({ length: 6 }, (_, i) => `${stack.demoOrigin}/slow/${i + 1}?ms=1500`).join('\n');
    const res = await fetch(
      `${base}/v1/batches?batchId=svc-2&options=${encodeURIComponent('{"concurrency":1,"mode":"fast"}')}`,
      {
        method: 'POST',
        headers: { ...auth, 'content-type': 'text/plain' },
        body: `# slow pages\n${body}\n`,
      },
    );
    assert.equal(res.status, 201);
    assert.equal(((await res.json()) as { total: number }).total, 6);
    // Pause once the first URL is in flight (a pause in the workflow's very first task is the core's concern).
    await eventually(async () => (await progressOf('svc-2')).counts.in_flight > 0, {
      what: 'svc-2 in flight',
    });
    assert.equal((await call('POST', '/v1/batches/svc-2/pause', {})).status, 202);
    await settled('svc-2', 'paused');
    assert.equal((await progressOf('svc-2')).pauseReason, 'manual');
    assert.equal((await call('POST', '/v1/batches/svc-2/resume', {})).status, 202);
    await settled('svc-2', 'running');
    assert.equal((await call('POST', '/v1/batches/svc-2/cancel', {})).status, 202);
    await settled('svc-2', 'cancelled');
  });

  it('scrapes a single URL: 200 with the result, or 202 with the workflow id to poll', async () => {
    const done = await call('POST', '/v1/scrape', {
      url: `${stack.demoOrigin}/p/7`,
      options: { mode: 'fast', outputFormat: 'css_extractor', cssSelectors: { title: 'h1' } },
    });
    assert.equal(done.status, 200, done.text);
    assert.deepEqual(done.json.fields, { title: 'Product 7' });
    const failed = await call('POST', '/v1/scrape', {
      url: `${stack.demoOrigin}/status/404`,
      options: { mode: 'fast' },
    });
    assert.equal(failed.status, 502, failed.text);
    assert.equal(failed.json.error, 'scrape_failed');
    const pending = await call('POST', '/v1/scrape', {
      url: `${stack.demoOrigin}/slow/1?ms=3000`,
      waitMs: 0,
      options: { mode: 'fast' },
    });
    assert.equal(pending.status, 202, pending.text);
    assert.equal(typeof pending.json.workflowId, 'string');
    assert.equal(pending.json.poll, `/v1/batches/${String(pending.json.workflowId)}`);
  });

  it('streams a 10,000-row export: the first bytes arrive while most rows are still unread', async () => {
    let read = 0;
    const detail = 'x'.repeat(2000); // 20 MB in all: more than socket buffers can swallow
    const big = {
      close: () => Promise.resolve(),
      inputCount: () => Promise.resolve(10_000),
      async *listResults(batchId: string) {
        await Promise.resolve();
        for (let index = 0; index < 10_000; index++) {
          read += 1;
          yield {
            batchId,
            index,
            url: `https://a.example/${index}`,
            status: 'succeeded',
            detail,
            charged: 1,
            attempts: 1,
            finishedAt: '2020-01-01T00:00:00.000Z',
          };
        }
      },
    } as unknown as ResultStore;
    const bigApp = await buildService({ client: stack.client, store: big, token: TOKEN, logger });
    const url = await bigApp.listen({ host: '127.0.0.1', port: 0 });
    try {
      const res = await fetch(`${url}/v1/batches/big/results?format=csv`, { headers: auth });
      assert.equal(res.status, 200);
      const reader = (res.body as ReadableStream<Uint8Array>).getReader();
      const first = await reader.read();
      assert.ok(first.value && first.value.length > 0);
      assert.ok(read < 5_000, `${read} rows read before the first chunk arrived`);
      let text = Buffer.from(first.value).toString();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        text += Buffer.from(value).toString();
      }
      assert.equal(text.trim().split('\n').length, 10_001);
      assert.equal(read, 10_000);
    } finally {
      await bigApp.close();
    }
  });
});

describe('HTTP service: bounded requests', () => {
  const LIMITS = { uploadMaxBytes: 4000, uploadMaxLines: 10, requestTimeoutMs: 1500 };
  let small: FastifyInstance;
  let smallBase: string;
  before(async () => {
    small = await buildService({
      client: stack.client,
      store: stack.store,
      token: TOKEN,
      logger,
      limits: LIMITS,
    });
    smallBase = await small.listen({ host: '127.0.0.1', port: 0 });
  });
  after(() => small?.close());

  const upload = async (batchId: string, body: string) => {
    const res = await fetch(`${smallBase}/v1/batches?batchId=${batchId}`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'text/plain' },
      body,
    });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  };
  /** Nothing of a refused start stays: no stored input, no workflow, and the id is still free. */
  const nothingStored = async (batchId: string) => {
    assert.equal(await stack.store.inputCount(batchId), undefined, 'no input stored');
    await assert.rejects(stack.client.workflow.getHandle(batchId).describe(), {
      name: 'WorkflowNotFoundError',
    });
  };

  it('the request, connection and keep-alive timeouts are set on the server', () => {
    assert.equal(small.server.requestTimeout, 1500);
    assert.equal(small.server.timeout, 300_000, 'connection timeout (default)');
    assert.equal(small.server.keepAliveTimeout, 72_000);
    assert.equal(app.server.requestTimeout, 900_000, 'default: 15 min');
  });

  it('an upload over the byte cap: 413 naming body, nothing stored', async () => {
    const line = `${stack.demoOrigin}/p/${'x'.repeat(900)}`;
    const res = await upload('svc-cap-bytes', Array.from({ length: 5 }, () => line).join('\n'));
    assert.equal(res.status, 413, JSON.stringify(res.json));
    assert.deepEqual(
      { error: res.json.error, field: res.json.field, limit: res.json.limit },
      { error: 'upload_too_large', field: 'body', limit: 4000 },
    );
    assert.match(
      String(res.json.message),
      /^body: the upload is over 4000 bytes \(SCRAPEFLOW_UPLOAD_MAX_BYTES\)/,
    );
    await nothingStored('svc-cap-bytes');
  });

  it('an upload over the line cap: 413 naming body, nothing stored; at the cap it starts', async () => {
    const lines = (n: number) =>
      Array.from({ length: n }, (_, i) => `${stack.demoOrigin}/p/${i + 1}`).join('\n');
    const res = await upload('svc-cap-lines', lines(11));
    assert.equal(res.status, 413, JSON.stringify(res.json));
    assert.equal(res.json.field, 'body');
    assert.equal(res.json.limit, 10);
    assert.match(String(res.json.message), /more than 10 URLs \(SCRAPEFLOW_UPLOAD_MAX_LINES\)/);
    await nothingStored('svc-cap-lines');
    const ok = await upload('svc-cap-lines', lines(10));
    assert.equal(ok.status, 201, JSON.stringify(ok.json));
    assert.equal(ok.json.total, 10);
    await settled('svc-cap-lines');
  });

  it('an upload that stalls: 408 naming body once the time limit passes, nothing stored', async () => {
    const started = Date.now();
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(`${smallBase}/v1/batches?batchId=svc-cap-slow`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'text/plain', 'transfer-encoding': 'chunked' },
      });
      req.on('response', (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      // The first lines, then nothing: the client neither sends more nor ends the body.
      req.write(`${stack.demoOrigin}/p/1\n${stack.demoOrigin}/p/2\n`);
    });
    assert.equal(answer.status, 408, answer.body);
    const json = JSON.parse(answer.body) as Record<string, unknown>;
    assert.equal(json.error, 'upload_timeout');
    assert.equal(json.field, 'body');
    assert.match(String(json.message), /did not arrive within 1\.5 s \(SCRAPEFLOW_REQUEST_TIMEOUT_MS\)/);
    assert.ok(Date.now() - started >= 1400, 'not before the limit');
    await nothingStored('svc-cap-slow');
  });

  it('options over a cap: 400 naming the field, in a JSON body and in an upload', async () => {
    const selectors = Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`f${i}`, 'h1']));
    const options = { outputFormat: 'css_extractor', cssSelectors: selectors };
    const json = await call('POST', '/v1/batches', { urls: [`${stack.demoOrigin}/p/1`], options });
    assert.equal(json.status, 400, json.text);
    assert.equal(json.json.field, 'body.options.cssSelectors');
    assert.match(String(json.json.message), /cssSelectors: has more than 100 selectors/);
    const huge = {
      steps: Array.from({ length: 7 }, (_, i) => ({
        action: 'fill',
        selector: `#f${i}`,
        value: 'x'.repeat(10_000),
      })),
    };
    const big = await call('POST', '/v1/batches', { urls: [`${stack.demoOrigin}/p/1`], options: huge });
    assert.equal(big.status, 400, big.text);
    assert.equal(big.json.field, 'body.options');
    assert.match(String(big.json.message), /bytes as JSON, over the 65536 a batch's options may hold/);
    const res = await fetch(
      `${base}/v1/batches?batchId=svc-cap-options&options=${encodeURIComponent(JSON.stringify(options))}`,
      {
        method: 'POST',
        headers: { ...auth, 'content-type': 'text/plain' },
        body: `${stack.demoOrigin}/p/1\n`,
      },
    );
    const body = (await res.json()) as Record<string, unknown>;
    assert.equal(res.status, 400, JSON.stringify(body));
    assert.equal(body.field, 'options.cssSelectors');
    await nothingStored('svc-cap-options');
    // A content type named like an Object.prototype key is not an upload type.
    const odd = await fetch(`${base}/v1/batches`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'constructor' },
      body: 'x',
    });
    assert.equal(odd.status, 415);
  });
});

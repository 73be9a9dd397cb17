/**
 * Invariant 8 over HTTP: a token acts only on its accounts' batches. Every route of the route table ×
 * {no token, a wrong token, another account's token, the account's own token, admin}: 401 without a
 * valid token; another account's batch answers 404 exactly as a batch that does not exist; a start on
 * an account the token lacks is 403 naming the account, and stores nothing; lists and resume-all see
 * the token's accounts only. One dev server, one worker, one service; accounts `acme` and `globex`.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { createToken } from '../../src/auth/manage.js';
import { tokenStoreOf } from '../../src/auth/tokens.js';
import { pauseBatch, startBatch } from '../../src/client/batches.js';
import { createMonitor } from '../../src/client/monitors.js';
import { listBatches } from '../../src/client/list.js';
import { readAccountsFile, type AccountsFile } from '../../src/config/accounts.js';
import { buildService } from '../../src/service/app.js';
import { ROUTES } from '../../src/service/routes.js';
import type { BatchProgress } from '../../src/workflows/types.js';
import { writeAccountsFile } from '../support/accounts-file.js';
import { eventually, startStack, type Stack } from '../support/stack.js';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.js';
import { webhookStoreOf } from '../../src/webhooks/store.js';

type Who = 'none' | 'wrong' | 'other' | 'own' | 'admin';
const ENV_ADMIN = 'scopes-test-admin-token-0123456789abcdef';

let stack: Stack;
let app: FastifyInstance;
let base: string;
let accounts: AccountsFile;
/** Tokens by who they are to `acme`'s batches. */
const tokens: Record<Who, string | undefined> = {
  none: undefined,
  wrong: `sft_${'A'.repeat(43)}`,
  other: undefined,
  own: undefined,
  admin: undefined,
};
let receiver: WebhookReceiver;
let acmeToken: string;
let globexToken: string;
/** Routes a case below has called, as `METHOD url` of the route table. */
const covered = new Set<string>();

before(async () => {
  stack = await startStack({
    concurrency: 3,
    accounts: [
      { id: 'acme', concurrency: 2 },
      { id: 'globex', concurrency: 2 },
    ],
  });
  const file = await writeAccountsFile(stack, { acme: 2, globex: 2 });
  accounts = readAccountsFile(file.path);
  await stack.startWorker(file.env);
  // The `slow` batches stay running (their URL answers after minutes) until cancelled.
  await stack.admin('PUT', '/admin/faults', {
    rules: [{ match: `${stack.demoOrigin}/p/90*`, action: 'latency', latencyMs: 300_000 }],
  });
  const store = tokenStoreOf(stack.store)!;
  const create = (name: string, labels: string[], admin = false) =>
    createToken(store, { name, accounts: labels, admin }, accounts).then((t) => t.token);
  acmeToken = await create('acme', ['acme']);
  globexToken = await create('globex', ['globex']);
  tokens.own = acmeToken;
  tokens.other = globexToken;
  tokens.admin = await create('ops', [], true);
  app = await buildService({
    client: stack.client,
    store: stack.store,
    token: ENV_ADMIN,
    logger: pino({ level: 'silent' }),
    accounts,
    webhookAllowHosts: '127.0.0.1',
  });
  receiver = await startWebhookReceiver();
  base = await app.listen({ host: '127.0.0.1', port: 0 });

  const start = (batchId: string, account: string, pages: number[]) =>
    startBatch(
      stack.client,
      stack.store,
      { batchId, urls: pages.map((n) => ({ url: `${stack.demoOrigin}/p/${n}` })), options: { account } },
      { accounts },
    );
  const done = await Promise.all([start('acme-done', 'acme', [1, 2]), start('globex-done', 'globex', [3])]);
  for (const { handle } of done) assert.equal(((await handle.result()) as BatchProgress).state, 'completed');
  for (const [id, account, page] of [
    ['acme-slow', 'acme', 901],
    ['globex-slow', 'globex', 902],
  ] as const) {
    await start(id, account, [page]);
    await pauseBatch(stack.client, id, 'balance');
  }
  await eventually(
    async () => {
      const paused = [];
      for await (const b of listBatches(stack.client, { pauseReasons: ['balance'] })) paused.push(b.batchId);
      return paused.length === 2 || undefined;
    },
    { what: 'both slow batches listed as paused (balance)' },
  );
});
after(async () => {
  await receiver?.close();
  await app?.close();
  await stack?.stop();
});

interface Answer {
  status: number;
  json: Record<string, unknown>;
  text: string;
}

async function call(
  who: Who,
  method: string,
  path: string,
  body?: unknown,
  type = 'application/json',
): Promise<Answer> {
  const token = tokens[who];
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body !== undefined ? { 'content-type': type } : {}),
    },
    ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    /* not JSON */
  }
  return { status: res.status, json, text };
}

/** Calls `route` (its table url, its parameter (`:batchId`, `:webhookId`) filled with `id`) as `who`, and notes it covered. */
function callRoute(who: Who, method: string, url: string, batchId: string, body?: unknown, type?: string) {
  assert.ok(
    ROUTES.some((r) => r.method === method && r.url === url.split('?')[0]),
    `${method} ${url} is a route`,
  );
  covered.add(`${method} ${url.split('?')[0]}`);
  return call(who, method, url.replace(/:\w+/, batchId), body, type);
}

const acmeUrl = (n: number) => `${stack.demoOrigin}/p/${n}`;

describe('scopes: every route × {no token, wrong token, other account, own account, admin}', () => {
  it('every route answers 401 without a token and with a wrong one', async () => {
    for (const route of ROUTES)
      for (const who of ['none', 'wrong'] as const) {
        const res = await call(
          who,
          route.method,
          route.url.replace(':batchId', 'acme-done'),
          route.method === 'POST' ? {} : undefined,
        );
        assert.equal(res.status, 401, `${who} ${route.method} ${route.url}`);
        assert.equal(res.json.error, 'unauthorized');
      }
  });

  it('`token` routes answer every valid token', async () => {
    for (const route of ROUTES.filter((r) => r.scope === 'token'))
      for (const who of ['other', 'own', 'admin'] as const)
        assert.equal((await callRoute(who, route.method, route.url, '')).status, 200, `${who} ${route.url}`);
  });

  it("another account's batch is 404 exactly as a missing one; the own account and admin reach it", async () => {
    const cases: Array<[string, string, unknown, number]> = [
      ['GET', '/v1/batches/:batchId', undefined, 200],
      ['GET', '/v1/batches/:batchId/costs', undefined, 200],
      ['GET', '/v1/batches/:batchId/results', undefined, 200],
      ['GET', '/v1/batches/:batchId/dead-letters', undefined, 200],
      // The batch has no dead letters: the route was reached, and re-drove nothing.
      ['POST', '/v1/batches/:batchId/redrive', {}, 409],
    ];
    for (const [method, url, body, expected] of cases) {
      const other = await callRoute('other', method, url, 'acme-done', body);
      const missing = await callRoute('other', method, url, 'no-such-batch', body);
      assert.equal(other.status, 404, `other ${method} ${url}: ${other.text}`);
      assert.equal(
        other.text.replace('acme-done', 'no-such-batch'),
        missing.text,
        'nothing tells them apart',
      );
      for (const who of ['own', 'admin'] as const) {
        const res = await callRoute(who, method, url, 'acme-done', body);
        assert.equal(res.status, expected, `${who} ${method} ${url}: ${res.text}`);
      }
    }
    const progress = await callRoute('own', 'GET', '/v1/batches/:batchId', 'acme-done');
    assert.equal(progress.json.total, 2);
  });

  it("GET /v1/batches lists the token's accounts' batches only (admin: all)", async () => {
    const ids = async (who: Who) =>
      ((await callRoute(who, 'GET', '/v1/batches', '')).json.batches as Array<{ batchId: string }>)
        .map((b) => b.batchId)
        .sort();
    assert.deepEqual(await ids('own'), ['acme-done', 'acme-slow']);
    assert.deepEqual(await ids('other'), ['globex-done', 'globex-slow']);
    const all = await ids('admin');
    for (const id of ['acme-done', 'acme-slow', 'globex-done', 'globex-slow'])
      assert.ok(all.includes(id), id);
  });

  it("POST /v1/resume-all resumes the token's accounts' batches only", async () => {
    const globex = await callRoute('other', 'POST', '/v1/resume-all', '');
    assert.deepEqual(globex.json.resumed, ['globex-slow']);
    const acme = await stack.client.workflow.getHandle('acme-slow').describe();
    assert.equal(acme.status.name, 'RUNNING');
    const own = await callRoute('own', 'POST', '/v1/resume-all', '');
    assert.deepEqual(own.json.resumed, ['acme-slow']);
    assert.equal((await callRoute('admin', 'POST', '/v1/resume-all', '')).status, 200);
  });

  it("pause, resume and cancel: another account's running batch is 404, and is not touched", async () => {
    for (const action of ['pause', 'resume', 'cancel']) {
      const url = `/v1/batches/:batchId/${action}`;
      const other = await callRoute('other', 'POST', url, 'acme-slow', {});
      assert.equal(other.status, 404, `${action}: ${other.text}`);
      assert.equal(other.json.message, 'no batch "acme-slow"');
    }
    assert.equal((await call('own', 'GET', '/v1/batches/acme-slow')).json.state, 'running');
    for (const who of ['own', 'admin'] as const)
      for (const action of ['pause', 'resume'])
        assert.equal(
          (await callRoute(who, 'POST', `/v1/batches/:batchId/${action}`, 'acme-slow', {})).status,
          202,
        );
    assert.equal(
      (await callRoute('own', 'POST', '/v1/batches/:batchId/cancel', 'acme-slow', {})).status,
      202,
    );
    assert.equal(
      (await callRoute('admin', 'POST', '/v1/batches/:batchId/cancel', 'globex-slow', {})).status,
      202,
    );
  });

  it('a start on an account the token lacks is 403 naming it, and stores nothing', async () => {
    const options = { account: 'acme' };
    const upload = (id: string) =>
      `/v1/batches?batchId=${id}&options=${encodeURIComponent(JSON.stringify(options))}`;
    const starts: Array<
      [string, (id: string) => string, (id: string) => unknown, string | undefined, number[]]
    > = [
      ['POST', () => '/v1/batches', (id) => ({ batchId: id, urls: [acmeUrl(4)], options }), undefined, [201]],
      ['POST', upload, () => `${acmeUrl(5)}\n`, 'text/plain', [201]],
      ['POST', () => '/v1/scrape', () => ({ url: acmeUrl(6), options, waitMs: 0 }), undefined, [200, 202]],
    ];
    let n = 0;
    for (const [method, url, body, type, expected] of starts) {
      for (const who of ['other', 'own', 'admin'] as const) {
        const id = `start-${who}-${(n += 1)}`;
        const res = await callRoute(who, method, url(id), id, body(id), type);
        if (who === 'other') {
          assert.equal(res.status, 403, `${url(id)}: ${res.text}`);
          assert.equal(res.json.error, 'account_forbidden');
          assert.equal(res.json.account, 'acme');
          assert.match(String(res.json.message), /token "globex" may not act on account "acme"/);
          assert.equal(await stack.store.inputCount(id), undefined, 'nothing stored');
        } else assert.ok(expected.includes(res.status), `${who} ${url(id)}: ${res.text}`);
      }
    }
    // No account named: the batch is `default`'s, which neither scoped token has.
    const unnamed = await call('own', 'POST', '/v1/batches', { urls: [acmeUrl(7)] });
    assert.equal(unnamed.status, 403);
    assert.equal(unnamed.json.account, 'default');
    // A re-drive starts a batch too: on the source's account unless the options name another.
    const redrive = await call('own', 'POST', '/v1/batches/acme-done/redrive', {
      options: { account: 'globex' },
    });
    assert.equal(redrive.status, 403, redrive.text);
    assert.equal(redrive.json.account, 'globex');
  });

  it("webhooks: a token sees and acts on its accounts' endpoints only; another's is 404 as a missing one", async () => {
    const add = (who: Who, body: Record<string, unknown>) =>
      callRoute(who, 'POST', '/v1/webhooks', '', { url: receiver.url, allowHttp: true, ...body });
    const own = await add('own', {});
    assert.equal(own.status, 201, own.text);
    assert.equal(own.json.account, 'acme', "a scoped token's one account");
    assert.match(String(own.json.secret), /^whsec_/);
    const forbidden = await add('other', { account: 'acme' });
    assert.equal(forbidden.status, 403, forbidden.text);
    assert.equal(forbidden.json.error, 'account_forbidden');
    const global = await add('admin', {});
    assert.equal(global.status, 201);
    assert.equal(global.json.account, undefined, "an admin's endpoint without account: every account's");
    const acmeHook = String(own.json.id);
    const globalHook = String(global.json.id);
    const listed = async (who: Who) =>
      (
        (await callRoute(who, 'GET', '/v1/webhooks', '')).json.endpoints as Array<{
          id: string;
          secretPrefix: string;
        }>
      )
        .map((e) => e.id)
        .sort();
    assert.deepEqual(await listed('own'), [acmeHook]);
    assert.deepEqual(await listed('other'), []);
    assert.deepEqual(await listed('admin'), [acmeHook, globalHook].sort());
    const listing = (await callRoute('admin', 'GET', '/v1/webhooks', '')).text;
    assert.ok(!listing.includes(String(own.json.secret)), 'list shows a prefix, never the secret');

    const missing = 'ep_0000000000000000';
    const cases: Array<[string, string, unknown, number]> = [
      ['GET', '/v1/webhooks/:webhookId', undefined, 200],
      ['PATCH', '/v1/webhooks/:webhookId', { enabled: false }, 200],
      ['PATCH', '/v1/webhooks/:webhookId', { enabled: true }, 200],
      ['POST', '/v1/webhooks/:webhookId/rotate-secret', { graceSeconds: 60 }, 200],
      ['POST', '/v1/webhooks/:webhookId/test', undefined, 200],
    ];
    for (const [method, url, body, expected] of cases) {
      const other = await callRoute('other', method, url, acmeHook, body);
      const none = await callRoute('other', method, url, missing, body);
      assert.equal(other.status, 404, `other ${method} ${url}: ${other.text}`);
      assert.equal(other.text.replace(acmeHook, missing), none.text, 'nothing tells them apart');
      assert.equal(
        (await callRoute('own', method, url, globalHook, body)).status,
        404,
        "a scoped token and every account's endpoint",
      );
      for (const who of ['own', 'admin'] as const) {
        const res = await callRoute(who, method, url, acmeHook, body);
        assert.equal(res.status, expected, `${who} ${method} ${url}: ${res.text}`);
      }
    }
    assert.ok(receiver.requests >= 2, 'the pings arrived');

    // Deliveries and redelivery of an acme event: the other account sees nothing and gets 404.
    await webhookStoreOf(stack.store)!.record(
      [
        {
          id: 'acme-done.custom',
          type: 'batch.completed',
          account: 'acme',
          subject: 'acme-done-x',
          data: {},
        },
      ],
      new Date(),
    );
    const deliveries = async (who: Who) =>
      (
        (await callRoute(who, 'GET', '/v1/webhooks/deliveries?event=acme-done.custom', '')).json
          .deliveries as Array<{
          endpointId: string;
        }>
      )
        .map((d) => d.endpointId)
        .sort();
    assert.deepEqual(await deliveries('own'), [acmeHook]);
    assert.deepEqual(await deliveries('other'), []);
    assert.deepEqual(await deliveries('admin'), [acmeHook, globalHook].sort());
    const redeliver = (who: Who, body?: unknown) =>
      callRoute(who, 'POST', '/v1/events/:eventId/redeliver', 'acme-done.custom', body ?? {});
    assert.equal((await redeliver('other')).status, 404);
    const mine = await redeliver('own');
    assert.equal(mine.status, 202, mine.text);
    assert.deepEqual(mine.json.endpoints, [acmeHook]);
    assert.equal((await redeliver('admin', { endpoint: globalHook })).status, 202);

    const del = (who: Who, id: string) => callRoute(who, 'DELETE', '/v1/webhooks/:webhookId', id);
    assert.equal((await del('other', acmeHook)).status, 404);
    assert.equal((await del('own', globalHook)).status, 404);
    assert.equal((await del('own', acmeHook)).status, 204);
    assert.equal((await del('admin', globalHook)).status, 204);
    assert.deepEqual(await listed('admin'), []);
  });

  it("another account's monitor is 404 exactly as a missing one; the own account and admin reach it", async () => {
    await createMonitor(
      stack.client,
      stack.store,
      'acme-watch',
      { urls: [{ url: acmeUrl(11) }], every: '1h', paused: true, options: { account: 'acme' } },
      { accounts },
    );
    // Between two runs of an hourly schedule: a backfill that starts nothing.
    const hour = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 3_600_000;
    const backfill = {
      from: new Date(hour + 600_000).toISOString(),
      to: new Date(hour + 1_200_000).toISOString(),
    };
    const history = `/v1/monitors/:name/history?url=${encodeURIComponent(acmeUrl(11))}`;
    const cases: Array<[string, string, unknown, number]> = [
      ['GET', '/v1/monitors/:name', undefined, 200],
      ['POST', '/v1/monitors/:name', { retainDays: 30 }, 200],
      ['POST', '/v1/monitors/:name/pause', {}, 200],
      ['POST', '/v1/monitors/:name/unpause', {}, 200],
      ['POST', '/v1/monitors/:name/backfill', backfill, 202],
      ['GET', '/v1/monitors/:name/runs', undefined, 200],
      ['GET', '/v1/monitors/:name/changes', undefined, 200],
      ['GET', history, undefined, 200],
      ['GET', '/v1/monitors/:name/costs', undefined, 200],
      ['POST', '/v1/monitors/:name/trigger', {}, 202],
    ];
    for (const [method, url, body, expected] of cases) {
      const other = await callRoute('other', method, url, 'acme-watch', body);
      const missing = await callRoute('other', method, url, 'no-such-watch', body);
      assert.equal(other.status, 404, `other ${method} ${url}: ${other.text}`);
      assert.equal(
        other.text.replace('acme-watch', 'no-such-watch'),
        missing.text,
        'nothing tells them apart',
      );
      for (const who of ['own', 'admin'] as const) {
        // One trigger: the second would be skipped while the first run goes on.
        if (url.endsWith('/trigger') && who === 'admin') continue;
        const res = await callRoute(who, method, url, 'acme-watch', body);
        assert.equal(res.status, expected, `${who} ${method} ${url}: ${res.text}`);
      }
    }
    const names = async (who: Who) =>
      ((await callRoute(who, 'GET', '/v1/monitors', '')).json.monitors as Array<{ name: string }>).map(
        (m) => m.name,
      );
    assert.deepEqual(await names('own'), ['acme-watch']);
    assert.deepEqual(await names('other'), []);
    assert.ok((await names('admin')).includes('acme-watch'));
    const create = (who: Who, name: string) =>
      callRoute(who, 'POST', '/v1/monitors', '', {
        name,
        urls: [acmeUrl(12)],
        every: '1h',
        paused: true,
        options: { account: 'acme' },
      });
    const refused = await create('other', 'globex-tries');
    assert.equal(refused.status, 403, refused.text);
    assert.equal(refused.json.account, 'acme');
    assert.equal((await create('admin', 'acme-watch-2')).status, 201);
    assert.equal((await callRoute('other', 'DELETE', '/v1/monitors/:name', 'acme-watch-2')).status, 404);
    assert.equal((await callRoute('own', 'DELETE', '/v1/monitors/:name', 'acme-watch-2')).status, 200);
  });

  it('every route of the table was called by the cases above', () => {
    const all = ROUTES.map((r) => `${r.method} ${r.url}`);
    assert.deepEqual(
      all.filter((r) => !covered.has(r)),
      [],
    );
  });

  it("the OpenAPI document names each operation's scope, and 403 where a start can be refused", async () => {
    const doc = (await call('own', 'GET', '/openapi.json')).json as {
      paths: Record<
        string,
        Record<string, { 'x-scrapeflow-scope'?: string; responses: Record<string, unknown> }>
      >;
    };
    for (const route of ROUTES) {
      const op = doc.paths[route.url.replace(/:(\w+)/g, '{$1}')]?.[route.method.toLowerCase()];
      assert.equal(op?.['x-scrapeflow-scope'], route.scope, route.url);
      if (route.scope === 'start') assert.ok(op?.responses['403'], `${route.url} documents 403`);
    }
  });
});

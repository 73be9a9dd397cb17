import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { inspect } from 'node:util';
import { OmniScrapeClient } from '../../src/omniscrape/client.js';
import type { OmniScrapeClientOptions } from '../../src/omniscrape/client.js';
import {
  BadRequestError,
  ClientTimeoutError,
  OmniScrapeError,
  RateLimitedError,
  ScrapeFailedError,
} from '../../src/omniscrape/errors.js';

const KEY = 'sk-test-9f8e7d6c5b4a-secret';
const TEST_TIMEOUT = { timeout: 10_000 };

interface Seen {
  method: string | undefined;
  url: string | undefined;
  headers: IncomingHttpHeaders;
  body: string;
}
type Handler = (req: IncomingMessage, res: ServerResponse) => void;

function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

function json(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
}

async function failure(promise: Promise<unknown>): Promise<OmniScrapeError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof OmniScrapeError, `expected an OmniScrapeError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the call to fail');
}

/** The key must not show up anywhere an error could be logged or recorded. */
function assertNoKey(err: OmniScrapeError): void {
  assert.ok(!JSON.stringify(err).includes(KEY), 'key in JSON.stringify(error)');
  assert.ok(!inspect(err, { depth: 10 }).includes(KEY), 'key in util.inspect(error)');
  assert.ok(!err.message.includes(KEY) && !(err.bodyExcerpt ?? '').includes(KEY));
}

const okBody = {
  success: true,
  data: { content: '<html>ok</html>' },
  metadata: { method_used: 'fast', solver_used: false },
  billing: { charged: 1, balance_after: 99 },
};

describe('OmniScrapeClient against a real local server', TEST_TIMEOUT, () => {
  let server: Server;
  let base: string;
  let handler: Handler = (_req, res) => json(res, 200, okBody);
  const seen: Seen[] = [];
  const clients: OmniScrapeClient[] = [];
  const makeClient = (overrides: Partial<OmniScrapeClientOptions> = {}): OmniScrapeClient => {
    const client = new OmniScrapeClient({ baseUrl: `${base}/v1`, apiKey: KEY, ...overrides });
    clients.push(client);
    return client;
  };
  let client: OmniScrapeClient;

  before(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen.push({
          method: req.method,
          url: req.url,
          headers: req.headers,
          body: Buffer.concat(chunks).toString(),
        });
        handler(req, res);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    client = makeClient();
  });

  after(async () => {
    server.closeAllConnections();
    await Promise.all(clients.map((c) => c.close()));
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('POSTs the validated request with defaults, the key header and the base path prefix', async () => {
    handler = (_req, res) => json(res, 200, okBody);
    const response = await client.scrape({ url: 'https://example.com/p/1' });
    assert.deepEqual(response, okBody);
    const req = seen.at(-1);
    assert.equal(req?.method, 'POST');
    assert.equal(req?.url, '/v1/scrape');
    assert.equal(req?.headers['x-api-key'], KEY);
    assert.equal(req?.headers['content-type'], 'application/json');
    assert.equal(req?.headers['user-agent'], 'scrapeflow/0.1.0');
    assert.deepEqual(JSON.parse(req?.body ?? ''), {
      url: 'https://example.com/p/1',
      mode: 'auto',
      output_format: 'html',
      enable_solver: false,
    });
  });

  const statusCases: Array<{ status: number; name: string; body?: unknown }> = [
    { status: 401, name: 'AuthError' },
    { status: 402, name: 'BalanceExhaustedError' },
    { status: 404, name: 'NotFoundError' },
    { status: 500, name: 'UpstreamError' },
    { status: 502, name: 'UpstreamError' },
    { status: 503, name: 'UpstreamError' },
    { status: 418, name: 'UnexpectedStatusError' },
  ];
  for (const { status, name } of statusCases) {
    it(`maps ${status} to ${name} with status and body excerpt`, async () => {
      handler = (_req, res) => json(res, status, { error: `boom-${status}` });
      const err = await failure(client.scrape({ url: 'https://example.com/' }));
      assert.equal(err.name, name);
      assert.equal(err.status, status);
      assert.match(err.bodyExcerpt ?? '', new RegExp(`boom-${status}`));
      assert.match(err.message, new RegExp(`POST /v1/scrape answered ${status}`));
    });
  }

  it('maps 400 to BadRequestError with the field the API named', async () => {
    handler = (_req, res) =>
      json(res, 400, { error: 'invalid_request', message: 'bad selector', field: 'css' });
    const err = await failure(client.scrape({ url: 'https://example.com/' }));
    assert.ok(err instanceof BadRequestError);
    assert.equal(err.field, 'css');
    assert.equal(err.status, 400);
    assert.match(err.message, /bad selector/);
  });

  it('maps 429 to RateLimitedError with Retry-After in seconds or as an HTTP date', async () => {
    handler = (_req, res) => json(res, 429, { error: 'rate_limited' }, { 'retry-after': '7' });
    const seconds = await failure(client.scrape({ url: 'https://example.com/' }));
    assert.ok(seconds instanceof RateLimitedError);
    assert.equal(seconds.retryAfterMs, 7000);
    assert.equal(seconds.status, 429);

    const date = new Date(Date.now() + 30_000).toUTCString();
    handler = (_req, res) => json(res, 429, { error: 'rate_limited' }, { 'retry-after': date });
    const dated = await failure(client.scrape({ url: 'https://example.com/' }));
    assert.ok(dated instanceof RateLimitedError);
    assert.ok(
      dated.retryAfterMs !== undefined && dated.retryAfterMs > 25_000 && dated.retryAfterMs <= 30_000,
    );
  });

  it('throws ScrapeFailedError carrying the whole answer when success is false', async () => {
    const answer = { success: false, error: 'selector not found', metadata: { target_status: 200 } };
    handler = (_req, res) => json(res, 200, answer);
    const err = await failure(client.scrape({ url: 'https://example.com/x' }));
    assert.ok(err instanceof ScrapeFailedError);
    assert.deepEqual(err.response, answer);
    assert.equal(err.status, 200);
    assert.match(err.message, /selector not found/);
  });

  it('rejects a 2xx body that is not JSON or breaks the contract as MalformedResponseError', async () => {
    handler = (_req, res) => json(res, 200, '<html>gateway</html>');
    const notJson = await failure(client.scrape({ url: 'https://example.com/' }));
    assert.equal(notJson.code, 'malformed_response');
    assert.equal(notJson.bodyExcerpt, '<html>gateway</html>');

    handler = (_req, res) => json(res, 200, { success: 'yes', data: { content: 5 } });
    const mismatch = await failure(client.scrape({ url: 'https://example.com/' }));
    assert.equal(mismatch.code, 'malformed_response');
    assert.equal(mismatch.status, 200);
    assert.match(mismatch.message, /success/);
  });

  it('stops reading a body over maxResponseBytes and closes the connection', async () => {
    const small = makeClient({ maxResponseBytes: 64 * 1024 });
    const total = 64 * 1024 * 1024;
    const serverDone = deferred<{ written: number; finished: boolean }>();
    handler = (_req, res) => {
      const chunk = Buffer.alloc(16 * 1024, 0x61);
      let written = 0;
      res.on('close', () => serverDone.resolve({ written, finished: res.writableFinished }));
      res.writeHead(200, { 'content-type': 'application/json' });
      const pump = (): void => {
        while (written < total) {
          written += chunk.length;
          if (!res.write(chunk)) {
            res.once('drain', pump);
            return;
          }
        }
        res.end();
      };
      pump();
    };
    const err = await failure(small.scrape({ url: 'https://example.com/' }));
    assert.equal(err.name, 'ResponseTooLargeError');
    assert.equal(err.status, 200);
    const { written, finished } = await serverDone.promise;
    assert.equal(finished, false, 'the server was able to send the whole body');
    assert.ok(written < total);
  });

  it('refuses a body whose content-length is over the limit without reading it', async () => {
    const small = makeClient({ maxResponseBytes: 1024 });
    const serverClosed = deferred<boolean>();
    handler = (_req, res) => {
      res.on('close', () => serverClosed.resolve(res.writableFinished));
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(1024 * 1024) });
      res.write('{"success":true');
    };
    const err = await failure(small.scrape({ url: 'https://example.com/' }));
    assert.equal(err.code, 'response_too_large');
    assert.equal(await serverClosed.promise, false);
  });

  it('times out waiting for headers with ClientTimeoutError phase headers', async () => {
    const arrived = deferred<void>();
    handler = () => arrived.resolve(); // never answers; `after` closes the socket if undici has not
    const err = await failure(client.scrape({ url: 'https://example.com/' }, { timeoutMs: 200 }));
    await arrived.promise;
    assert.ok(err instanceof ClientTimeoutError);
    assert.equal(err.phase, 'headers');
    assert.equal((err.cause as { code?: string }).code, 'UND_ERR_HEADERS_TIMEOUT');
  });

  it('times out on a stalled body with ClientTimeoutError phase body', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"success":');
    };
    const err = await failure(client.scrape({ url: 'https://example.com/' }, { timeoutMs: 200 }));
    assert.ok(err instanceof ClientTimeoutError);
    assert.equal(err.phase, 'body');
    assert.equal(err.status, 200);
  });

  it('fails with ClientTimeoutError phase pool when every connection stays busy', async () => {
    const single = makeClient({ connections: 1, poolTimeoutMs: 100 });
    const arrived = deferred<void>();
    handler = () => arrived.resolve();
    const controller = new AbortController();
    const first = failure(single.scrape({ url: 'https://example.com/1' }, { signal: controller.signal }));
    await arrived.promise;
    const second = await failure(single.scrape({ url: 'https://example.com/2' }));
    assert.ok(second instanceof ClientTimeoutError);
    assert.equal(second.phase, 'pool');
    controller.abort();
    assert.equal((await first).name, 'AbortedError');
  });

  it('maps a refused connection to ConnectionError', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const refused = makeClient({ baseUrl: `http://127.0.0.1:${port}/v1` });
    const err = await failure(refused.scrape({ url: 'https://example.com/' }));
    assert.equal(err.name, 'ConnectionError');
    assert.equal(err.status, undefined);
    assert.equal((err.cause as { code?: string }).code, 'ECONNREFUSED');
    assertNoKey(err);
  });

  it('maps a connection the server resets to ConnectionError', async () => {
    handler = (req) => req.socket.destroy();
    const err = await failure(client.scrape({ url: 'https://example.com/' }));
    assert.equal(err.name, 'ConnectionError');
    assert.equal((err.cause as { code?: string }).code, 'UND_ERR_SOCKET');
    assertNoKey(err);
  });

  it('maps the caller aborting to AbortedError, before sending and in flight', async () => {
    const early = await failure(
      client.scrape({ url: 'https://example.com/' }, { signal: AbortSignal.abort() }),
    );
    assert.equal(early.name, 'AbortedError');

    const arrived = deferred<void>();
    const serverClosed = deferred<void>();
    handler = (_req, res) => {
      res.on('close', () => serverClosed.resolve());
      arrived.resolve();
    };
    const controller = new AbortController();
    const call = failure(client.scrape({ url: 'https://example.com/' }, { signal: controller.signal }));
    await arrived.promise;
    controller.abort();
    const err = await call;
    assert.equal(err.name, 'AbortedError');
    assert.equal(err.code, 'aborted');
    await serverClosed.promise;
  });

  it('submits an async job with the Idempotency-Key header', async () => {
    handler = (_req, res) => json(res, 202, { job_id: 'job-1', status: 'queued' });
    const submitted = await client.submitAsync(
      { url: 'https://example.com/spa', mode: 'js_rendering', js_wait_selector: '.ready' },
      { idempotencyKey: 'batch-1/0' },
    );
    assert.deepEqual(submitted, { job_id: 'job-1', status: 'queued' });
    const req = seen.at(-1);
    assert.equal(req?.url, '/v1/scrape/async');
    assert.equal(req?.headers['idempotency-key'], 'batch-1/0');
    assert.equal((JSON.parse(req?.body ?? '{}') as { mode?: string }).mode, 'js_rendering');

    await client.submitAsync({ url: 'https://example.com/spa' });
    assert.equal(seen.at(-1)?.headers['idempotency-key'], undefined);

    const bad = await failure(
      client.submitAsync({ url: 'https://example.com/' }, { idempotencyKey: 'a\nb' }),
    );
    assert.ok(bad instanceof BadRequestError);
    assert.equal(bad.field, 'idempotencyKey');
  });

  it('returns queued, complete and failed async jobs without throwing', async () => {
    const jobs: Record<string, unknown> = {
      queued: { job_id: 'a/b c', status: 'queued' },
      complete: { job_id: 'a/b c', status: 'complete', ...okBody },
      failed: { job_id: 'a/b c', status: 'failed', success: false, error: 'render timeout' },
    };
    for (const [status, body] of Object.entries(jobs)) {
      handler = (_req, res) => json(res, 200, body);
      const job = await client.getAsyncJob('a/b c');
      assert.equal(job.status, status);
      assert.deepEqual(job, body);
      const req = seen.at(-1);
      assert.equal(req?.method, 'GET');
      assert.equal(req?.url, '/v1/scrape/async/a%2Fb%20c');
      assert.equal(req?.headers['x-api-key'], KEY);
    }
    handler = (_req, res) => json(res, 404, { error: 'job expired' });
    assert.equal((await failure(client.getAsyncJob('gone'))).name, 'NotFoundError');
  });

  it('never lets the key into an error, even when the API echoes it', async () => {
    handler = (_req, res) => json(res, 401, { error: `invalid key ${KEY}` });
    const auth = await failure(client.scrape({ url: 'https://example.com/' }));
    assert.equal(auth.name, 'AuthError');
    assert.match(auth.bodyExcerpt ?? '', /\[REDACTED\]/);
    assertNoKey(auth);

    handler = (_req, res) => json(res, 400, { message: `bad ${KEY}`, field: KEY });
    assertNoKey(await failure(client.scrape({ url: 'https://example.com/' })));

    handler = (_req, res) => json(res, 200, { success: false, error: `blocked for ${KEY}` });
    const failed = await failure(client.scrape({ url: 'https://example.com/' }));
    assert.equal(failed.name, 'ScrapeFailedError');
    assertNoKey(failed);

    handler = () => undefined;
    assertNoKey(await failure(client.scrape({ url: 'https://example.com/' }, { timeoutMs: 100 })));
  });

  it('rejects an invalid request locally, naming the field', async () => {
    const before = seen.length;
    const cases: Array<[unknown, string]> = [
      [{ url: 'ftp://example.com/' }, 'url'],
      [{ url: 'https://example.com/', output_format: 'css_extractor' }, 'css_selectors'],
      [{ url: 'https://example.com/', mode: 'turbo' }, 'mode'],
      [{ url: 'https://example.com/', css_selectors: { title: '' } }, 'css_selectors.title'],
      [{ url: 'https://example.com/', surprise: true }, 'surprise'],
    ];
    for (const [request, field] of cases) {
      const err = await failure(client.scrape(request as Parameters<OmniScrapeClient['scrape']>[0]));
      assert.ok(err instanceof BadRequestError);
      assert.equal(err.field, field);
      assert.equal(err.status, undefined);
    }
    const timeout = await failure(client.scrape({ url: 'https://example.com/' }, { timeoutMs: -5 }));
    assert.equal((timeout as BadRequestError).field, 'timeoutMs');
    assert.equal(seen.length, before, 'an invalid request reached the server');
  });

  it('builds from the environment and names a missing OMNISCRAPE_KEY', async () => {
    assert.throws(() => OmniScrapeClient.fromEnv({ OMNISCRAPE_API_URL: `${base}/v1` }), /OMNISCRAPE_KEY/);
    const fromEnv = OmniScrapeClient.fromEnv({ OMNISCRAPE_API_URL: `${base}/v1`, OMNISCRAPE_KEY: KEY });
    clients.push(fromEnv);
    handler = (_req, res) => json(res, 200, okBody);
    await fromEnv.scrape({ url: 'https://example.com/' });
    assert.equal(seen.at(-1)?.headers['x-api-key'], KEY);
  });

  it('rejects bad options with an error naming the option and not the key', () => {
    assert.throws(
      () => new OmniScrapeClient({ baseUrl: 'ftp://x/v1', apiKey: KEY, connections: 0 }),
      (err: Error) =>
        /baseUrl/.test(err.message) && /connections/.test(err.message) && !err.message.includes(KEY),
    );
  });
});

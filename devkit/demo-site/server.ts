/**
 * The demo site: deterministic pages, thousands addressable by number, for tests, benchmarks and the
 * demo. Every page kind is listed on `/`; markers are documented in ./pages.ts, the challenge protocol
 * in ./challenge.ts. Counters of requests per page and asset kind are on `counters()` and
 * `GET /__counters`.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import Fastify, { type FastifyReply } from 'fastify';
import { z } from 'zod';
import type { Logger } from '../../src/logging/logger.js';
import { ASSETS } from './assets.js';
import { CATEGORIES, interactiveBatch, parseProductNumber, type Product } from './catalog.js';
import { registerCatalogRoutes } from './catalog-routes.js';
import { CatalogState, DEFAULT_SITEMAP_PRODUCTS } from './changes.js';
import {
  CLEARANCE_COOKIE,
  CLEARANCE_TOKEN,
  VERIFY_PATH,
  challengeNonce,
  challengeProof,
  hasClearance,
} from './challenge.js';
import { CounterStore, type DemoCounters } from './counters.js';
import {
  challengePage,
  indexPage,
  interactivePage,
  jsPage,
  mediaPage,
  notFoundPage,
  productPage,
  statusPage,
} from './pages.js';

export type { DemoCounters } from './counters.js';
export type { CatalogSnapshot, CatalogState, ProductPatch } from './changes.js';

export interface DemoSiteOptions {
  /** Interface to listen on. @default '127.0.0.1' */
  host?: string;
  /** TCP port; 0 picks a free one. @default 0 */
  port?: number;
  /** Errors and start/stop lines go here. @default no logging */
  logger?: Logger;
  /** The sitemap lists products 1..this (plus added, less removed ones). @default 20 */
  sitemapProducts?: number;
  /** The clock a change's lastmod is read from. @default the system clock */
  now?: () => Date;
}

export interface DemoSite {
  /** E.g. `http://127.0.0.1:41234` (a wildcard host is replaced by 127.0.0.1). */
  origin: string;
  port: number;
  /** Stops listening, ends pending slow pages and closes open connections. */
  close(): Promise<void>;
  /** A snapshot of the request counters. */
  counters(): DemoCounters;
  resetCounters(): void;
  /** Resolves with a snapshot once `predicate` holds for the counters (at once if it already does). */
  waitForCounters(predicate: (c: DemoCounters) => boolean, signal?: AbortSignal): Promise<DemoCounters>;
  /**
   * Holds every `/interactive/items` answer until `release()` (or `close()`): a test's way to catch the
   * browser sessions on the interactive page at a known point, say to kill their worker mid-page.
   * `held()` counts the requests waiting. One hold at a time.
   */
  holdInteractiveItems(): InteractiveHold;
  /**
   * The catalogue of this instance: change a product's title, price or stock, add or remove products
   * (a removed one answers 404 on every page kind), reset. Also over HTTP under `/__catalog`
   * (./catalog-routes.ts). The sitemap (`/sitemap.xml`, `/robots.txt`) follows it.
   */
  catalog: CatalogState;
}

export interface InteractiveHold {
  held(): number;
  release(): void;
}

/** Longest `/slow` delay, in ms. */
export const MAX_SLOW_MS = 120_000;
/** `/slow` delay without `?ms=`, in ms. */
export const DEFAULT_SLOW_MS = 2_000;
/** Longest `/js` render delay, in ms. */
export const MAX_JS_DELAY_MS = 60_000;
/** `/js` render delay without `?delay=`, in ms. */
export const DEFAULT_JS_DELAY_MS = 300;

const HTML = 'text/html; charset=utf-8';

const slowQuery = z.object({ ms: z.coerce.number().int().min(0).max(MAX_SLOW_MS).default(DEFAULT_SLOW_MS) });
const jsQuery = z.object({
  delay: z.coerce.number().int().min(0).max(MAX_JS_DELAY_MS).default(DEFAULT_JS_DELAY_MS),
});
const itemsQuery = z.object({
  category: z.union([z.literal(''), z.enum(CATEGORIES)]).default(''),
  page: z.coerce.number().int().min(1).max(100).default(1),
});
const verifyBody = z.object({
  nonce: z.string().max(64),
  proof: z.string().max(64),
  return: z.string().max(64),
});

/** Parses `input` or answers 400 naming the offending field. */
function parseOr400<T>(schema: z.ZodType<T>, input: unknown, reply: FastifyReply): T | undefined {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  void reply
    .code(400)
    .type('text/plain; charset=utf-8')
    .send(`invalid ${issue?.path.join('.') || 'input'}: ${issue?.message ?? 'bad value'}\n`);
  return undefined;
}

function originOf(host: string, port: number): string {
  const reachable = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return `http://${reachable.includes(':') ? `[${reachable}]` : reachable}:${port}`;
}

export async function startDemoSite(options: DemoSiteOptions = {}): Promise<DemoSite> {
  const { host = '127.0.0.1', port = 0, logger } = options;
  const counters = new CounterStore();
  const catalog = new CatalogState({
    sitemapProducts: options.sitemapProducts ?? DEFAULT_SITEMAP_PRODUCTS,
    ...(options.now ? { now: options.now } : {}),
  });
  /** Aborted by close(): ends every pending slow wait. */
  const shutdown = new AbortController();
  const app = Fastify({ logger: false, forceCloseConnections: true, bodyLimit: 16 * 1024 });

  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string' },
    (_request, body, done) => done(null, Object.fromEntries(new URLSearchParams(body as string))),
  );

  app.setNotFoundHandler((request, reply) => {
    counters.page('notFound');
    return reply.code(404).type(HTML).send(notFoundPage(request.url));
  });

  app.setErrorHandler((err: { statusCode?: number; message?: string }, request, reply) => {
    const status = typeof err.statusCode === 'number' && err.statusCode >= 400 ? err.statusCode : 500;
    if (status >= 500) logger?.error({ err, url: request.url }, 'demo-site request failed');
    return reply
      .code(status)
      .type('text/plain; charset=utf-8')
      .send(`${status >= 500 ? 'internal error' : (err.message ?? 'bad request')}\n`);
  });

  /** The product number of `/<kind>/<n>`, or a 404 answered (also for a product removed from the catalogue). */
  const productNumber = (segment: string, reply: FastifyReply): number | undefined => {
    const n = parseProductNumber(segment);
    if (n === undefined || catalog.product(n) === undefined) {
      counters.page('notFound');
      void reply
        .code(404)
        .type(HTML)
        .send(notFoundPage(`no product ${segment}`));
      return undefined;
    }
    return n;
  };
  /** Product `n` as the catalogue has it now; `productNumber` made sure it exists. */
  const product = (n: number): Product => catalog.product(n) as Product;

  app.get('/', (_request, reply) => {
    counters.page('index');
    return reply.type(HTML).send(indexPage());
  });

  app.get<{ Params: { n: string } }>('/p/:n', (request, reply) => {
    const n = productNumber(request.params.n, reply);
    if (n === undefined) return reply;
    counters.page('product');
    return reply.type(HTML).send(productPage(product(n), 'static'));
  });

  app.get<{ Params: { n: string } }>('/js/:n', (request, reply) => {
    const n = productNumber(request.params.n, reply);
    if (n === undefined) return reply;
    const query = parseOr400(jsQuery, request.query, reply);
    if (query === undefined) return reply;
    counters.page('js');
    return reply.type(HTML).send(jsPage(n, query.delay));
  });

  app.get<{ Params: { n: string } }>('/api/products/:n', (request, reply) => {
    const n = productNumber(request.params.n, reply);
    if (n === undefined) return reply;
    counters.page('api');
    return reply.send(product(n));
  });

  app.get<{ Params: { n: string } }>('/slow/:n', async (request, reply) => {
    const n = productNumber(request.params.n, reply);
    if (n === undefined) return reply;
    const query = parseOr400(slowQuery, request.query, reply);
    if (query === undefined) return reply;
    const clientGone = new AbortController();
    const onClose = (): void => {
      if (!reply.raw.writableEnded) clientGone.abort();
    };
    reply.raw.on('close', onClose);
    counters.page('slow');
    try {
      await sleep(query.ms, undefined, { signal: AbortSignal.any([clientGone.signal, shutdown.signal]) });
    } catch {
      if (clientGone.signal.aborted) {
        counters.event('slowAborted');
        reply.hijack();
        reply.raw.destroy();
        return;
      }
      return reply.code(503).type('text/plain; charset=utf-8').send('demo site shutting down\n');
    } finally {
      reply.raw.off('close', onClose);
    }
    const current = catalog.product(n);
    if (current === undefined) return productNumber(request.params.n, reply) ?? reply; // removed meanwhile
    return reply.type(HTML).send(productPage(current, 'slow'));
  });

  app.get<{ Params: { n: string } }>('/challenge/:n', (request, reply) => {
    const n = productNumber(request.params.n, reply);
    if (n === undefined) return reply;
    if (hasClearance(request.headers.cookie)) {
      counters.page('challengePassed');
      return reply.type(HTML).send(productPage(product(n), 'challenge'));
    }
    counters.page('challenge');
    return reply
      .code(403)
      .type(HTML)
      .header('cache-control', 'no-store')
      .send(challengePage(challengeNonce(n), `/challenge/${n}`));
  });

  app.post(VERIFY_PATH, (request, reply) => {
    counters.page('challengeVerify');
    const body = parseOr400(verifyBody, request.body ?? {}, reply);
    if (body === undefined) return reply;
    const match = /^\/challenge\/(\w+)$/.exec(body.return);
    const n = match?.[1] === undefined ? undefined : parseProductNumber(match[1]);
    if (n === undefined) {
      return reply.code(400).type('text/plain; charset=utf-8').send('invalid return: not a challenge page\n');
    }
    const nonce = challengeNonce(n);
    if (body.nonce !== nonce || body.proof !== challengeProof(nonce)) {
      counters.event('challengeFailed');
      return reply
        .code(403)
        .type(HTML)
        .send(challengePage(nonce, body.return, true));
    }
    return reply
      .code(303)
      .header('set-cookie', `${CLEARANCE_COOKIE}=${CLEARANCE_TOKEN}; Path=/; HttpOnly; SameSite=Lax`)
      .header('location', body.return)
      .send();
  });

  app.get('/interactive', (_request, reply) => {
    counters.page('interactive');
    return reply.type(HTML).send(interactivePage());
  });

  let hold: { waiting: number; released: Promise<void>; release: () => void } | undefined;
  app.get('/interactive/items', async (request, reply) => {
    const query = parseOr400(itemsQuery, request.query, reply);
    if (query === undefined) return reply;
    const current = hold;
    if (current) {
      current.waiting++;
      await current.released;
    }
    counters.page('interactiveItems');
    return reply.send(interactiveBatch(query.category === '' ? undefined : query.category, query.page));
  });

  app.get<{ Params: { n: string } }>('/media/:n', (request, reply) => {
    const n = productNumber(request.params.n, reply);
    if (n === undefined) return reply;
    counters.page('media');
    return reply.type(HTML).send(mediaPage(n));
  });

  app.get<{ Params: { folder: string; name: string } }>('/assets/:folder/:name', (request, reply) => {
    const asset = ASSETS[request.params.folder];
    if (asset === undefined || !asset.name.test(request.params.name)) {
      counters.page('notFound');
      return reply.code(404).type(HTML).send(notFoundPage(request.url));
    }
    counters.asset(asset.kind);
    return reply.type(asset.contentType).header('cache-control', 'no-store').send(asset.body);
  });

  app.get<{ Params: { code: string } }>('/status/:code', (request, reply) => {
    const code = /^\d{3}$/.test(request.params.code) ? Number(request.params.code) : NaN;
    if (!(code >= 100 && code <= 599)) {
      return reply
        .code(400)
        .type('text/plain; charset=utf-8')
        .send('invalid code: an HTTP status is 100..599\n');
    }
    if (code < 200) {
      // A 1xx is informational: sent as the final answer, clients wait for another one or fail.
      return reply
        .code(400)
        .type('text/plain; charset=utf-8')
        .send('invalid code: 1xx is informational and cannot be a final answer; use 200..599\n');
    }
    counters.page('status');
    reply.code(code);
    if (code === 204 || code === 205 || code === 304) return reply.send();
    return reply.type(HTML).send(statusPage(code));
  });

  app.get('/__counters', (_request, reply) =>
    reply.header('cache-control', 'no-store').send(counters.snapshot()),
  );
  app.post('/__counters/reset', (_request, reply) => {
    counters.reset();
    return reply.code(204).send();
  });

  let siteOrigin = '';
  registerCatalogRoutes(app, catalog, counters, () => siteOrigin);

  await app.listen({ host, port });
  const address = app.server.address();
  const actualPort = typeof address === 'object' && address !== null ? address.port : port;
  const origin = originOf(host, actualPort);
  siteOrigin = origin;
  logger?.info({ origin }, 'demo-site listening');

  let closing: Promise<void> | undefined;
  return {
    origin,
    port: actualPort,
    close: () => {
      closing ??= (async () => {
        shutdown.abort();
        hold?.release();
        await app.close();
        logger?.info({ origin }, 'demo-site stopped');
      })();
      return closing;
    },
    counters: () => counters.snapshot(),
    resetCounters: () => counters.reset(),
    waitForCounters: (predicate, signal) => counters.waitFor(predicate, signal),
    catalog,
    holdInteractiveItems: () => {
      if (hold) throw new Error('the interactive items are already held');
      let open!: () => void;
      const current = {
        waiting: 0,
        released: new Promise<void>((resolve) => (open = resolve)),
        release: () => {
          if (hold === current) hold = undefined;
          open();
        },
      };
      hold = current;
      return { held: () => current.waiting, release: current.release };
    },
  };
}

/**
 * The demo site's catalogue routes: the sitemaps and robots.txt (./sitemaps.ts), and the routes that
 * change the catalogue, beside `/__counters` and like them unauthenticated (the site is a test double):
 * - `GET /__catalog`: what changed since the last reset (CatalogSnapshot)
 * - `PATCH /__catalog/products/<n>` `{ title?, price?, stock? }`: changes a product; its lastmod moves
 * - `PUT /__catalog/products/<n>` `{ title?, price?, stock? }`: adds a product to the sitemap (again)
 * - `DELETE /__catalog/products/<n>`: the product answers 404 and leaves the sitemap
 * - `POST /__catalog/reset` `{ sitemapProducts? }`: back to the pure catalogue (optionally another range)
 */
import { gzipSync } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { CATEGORIES, parseProductNumber } from './catalog.js';
import { MAX_SITEMAP_PRODUCTS, type CatalogState } from './changes.js';
import type { CounterStore } from './counters.js';
import { categorySitemap, robotsTxt, rootIndex, testSitemap } from './sitemaps.js';

const XML = 'application/xml; charset=utf-8';
const TEXT = 'text/plain; charset=utf-8';

export const productPatchSchema = z
  .object({
    title: z.string().trim().min(1).max(200).optional(),
    price: z
      .union([
        z.number().min(0).max(1_000_000),
        z.string().regex(/^\d{1,7}(\.\d{1,2})?$/, 'must be a price such as 19.99'),
      ])
      .transform((price) => Number(price).toFixed(2))
      .optional(),
    stock: z.number().int().min(0).max(1_000_000).optional(),
  })
  .strict();

const resetSchema = z
  .object({ sitemapProducts: z.number().int().min(0).max(MAX_SITEMAP_PRODUCTS).optional() })
  .strict();

/** Parses `input` or answers 400 naming the offending field. */
function parseOr400<T>(schema: z.ZodType<T>, input: unknown, reply: FastifyReply): T | undefined {
  const parsed = schema.safeParse(input ?? {});
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  void reply
    .code(400)
    .type(TEXT)
    .send(`invalid ${issue?.path.join('.') || 'body'}: ${issue?.message ?? 'bad value'}\n`);
  return undefined;
}

const HOST = /^(?:[\w.-]+|\[[\da-f:.]+\])(?::\d{1,5})?$/i;

/**
 * The origin URLs in a sitemap use: the one the client asked for (a site behind another name or in a
 * container), else the site's own.
 */
function requestOrigin(request: FastifyRequest, fallback: string): string {
  const host = request.headers.host;
  return host !== undefined && HOST.test(host) ? `http://${host}` : fallback;
}

function sendXml(reply: FastifyReply, xml: string, gzip: boolean): FastifyReply {
  reply.header('cache-control', 'no-store');
  if (gzip) return reply.type('application/gzip').send(gzipSync(xml));
  return reply.type(XML).send(xml);
}

export function registerCatalogRoutes(
  app: FastifyInstance,
  catalog: CatalogState,
  counters: CounterStore,
  origin: () => string,
): void {
  app.get('/robots.txt', (request, reply) => {
    counters.page('robots');
    return reply.type(TEXT).send(robotsTxt(requestOrigin(request, origin())));
  });

  app.get('/sitemap.xml', (request, reply) => {
    counters.page('sitemap');
    return sendXml(reply, rootIndex(requestOrigin(request, origin()), catalog.listed()), false);
  });

  app.get<{ Params: { name: string } }>('/sitemaps/:name', (request, reply) => {
    const match = /^(\w+)\.xml(\.gz)?$/.exec(request.params.name);
    const category = CATEGORIES.find((c) => c === match?.[1]);
    if (match === null || category === undefined) return reply.callNotFound();
    counters.page('sitemap');
    const xml = categorySitemap(requestOrigin(request, origin()), category, catalog.listed());
    return sendXml(reply, xml, match[2] !== undefined);
  });

  app.get<{ Params: { '*': string } }>('/sitemaps/test/*', (request, reply) => {
    const name = request.params['*'];
    const gzip = name.endsWith('.gz');
    const xml = testSitemap(requestOrigin(request, origin()), gzip ? name.slice(0, -3) : name);
    if (xml === undefined) return reply.callNotFound();
    counters.page('sitemap');
    return sendXml(reply, xml, gzip);
  });

  app.get('/__catalog', (_request, reply) =>
    reply.header('cache-control', 'no-store').send(catalog.snapshot()),
  );

  /** The product number of the route, or a 404 answered. */
  const numberOr404 = (segment: string, reply: FastifyReply): number | undefined => {
    const n = parseProductNumber(segment);
    if (n === undefined) void reply.code(404).type(TEXT).send(`no product ${segment}\n`);
    return n;
  };

  app.patch<{ Params: { n: string } }>('/__catalog/products/:n', (request, reply) => {
    const n = numberOr404(request.params.n, reply);
    if (n === undefined) return reply;
    const patch = parseOr400(productPatchSchema, request.body, reply);
    if (patch === undefined) return reply;
    if (catalog.product(n) === undefined) {
      return reply.code(404).type(TEXT).send(`product ${n} was removed; PUT adds it again\n`);
    }
    return reply.send(catalog.change(n, patch));
  });

  app.put<{ Params: { n: string } }>('/__catalog/products/:n', (request, reply) => {
    const n = numberOr404(request.params.n, reply);
    if (n === undefined) return reply;
    const patch = parseOr400(productPatchSchema, request.body, reply);
    if (patch === undefined) return reply;
    return reply.code(201).send(catalog.add(n, patch));
  });

  app.delete<{ Params: { n: string } }>('/__catalog/products/:n', (request, reply) => {
    const n = numberOr404(request.params.n, reply);
    if (n === undefined) return reply;
    return catalog.remove(n)
      ? reply.code(204).send()
      : reply.code(404).type(TEXT).send(`product ${n} was already removed\n`);
  });

  app.post('/__catalog/reset', (request, reply) => {
    const body = parseOr400(resetSchema, request.body, reply);
    if (body === undefined) return reply;
    catalog.reset(body.sitemapProducts);
    return reply.send(catalog.snapshot());
  });
}

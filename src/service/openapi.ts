/**
 * The OpenAPI 3.1 document of the service (`GET /openapi.json`), generated from the route table
 * (routes.ts) and the zod schemas its routes validate with; its `webhooks` section (what scrapeflow
 * POSTs to a receiver) from the event catalogue (src/events/catalogue.ts).
 */
import { z } from 'zod';
import { batchProgressSchema } from '../batch/progress.js';
import { PACKAGE_VERSION } from '../config/package.js';
import { EVENT_CATALOGUE, EVENT_TYPES, envelopeSchema } from '../events/catalogue.js';
import { SCOPES, type ResponseDoc, type Route } from './route.js';
import { errorBodySchema } from './schemas.js';

/** The JSON schema of what a body accepts (`input`, the default) or of what an answer holds (`output`). */
const json = (schema: z.ZodType, io: 'input' | 'output' = 'input') => {
  const { $schema: _drop, ...rest } = z.toJSONSchema(schema, {
    io,
    unrepresentable: 'any',
  }) as Record<string, unknown>;
  return rest;
};

function queryParameters(schema: z.ZodObject) {
  const shape = json(schema) as { properties?: Record<string, unknown>; required?: string[] };
  return Object.entries(shape.properties ?? {}).map(([name, s]) => ({
    name,
    in: 'query',
    required: shape.required?.includes(name) ?? false,
    schema: s,
  }));
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

/** Bodies of other media types than JSON: media type → a string schema saying what it holds. */
const textContent = (types: Record<string, string>) =>
  Object.fromEntries(
    Object.entries(types).map(([type, about]) => [type, { schema: { type: 'string', description: about } }]),
  );

function response({ description, error, schema, content }: ResponseDoc) {
  if (error) return { description, content: { 'application/json': { schema: ref('Error') } } };
  if (schema) return { description, content: { 'application/json': { schema: ref(schema) } } };
  if (content)
    return {
      description,
      content: textContent(content),
    };
  return { description };
}

/** One operation of the document: path parameters from the URL, the rest from the route. */
function operation(route: Route) {
  const pathParameters = [...route.url.matchAll(/:(\w+)/g)].map(([, name]) => ({
    name,
    in: 'path',
    required: true,
    schema: { type: 'string' },
  }));
  const parameters = [...pathParameters, ...(route.query ? queryParameters(route.query) : [])];
  const content = {
    ...(route.body ? { 'application/json': { schema: ref(route.body.name) } } : {}),
    ...textContent(route.uploads ?? {}),
  };
  const unavailable: Record<number, ResponseDoc> = route.offline
    ? {}
    : { 503: { description: 'Temporal is unreachable', error: true } };
  const forbidden: Record<number, ResponseDoc> =
    route.scope === 'start'
      ? { 403: { description: 'the token may not act on the account the options name', error: true } }
      : {};
  const responses: Record<number, ResponseDoc> = {
    401: { description: 'missing or wrong bearer token', error: true },
    ...forbidden,
    ...unavailable,
    ...route.responses,
  };
  return {
    summary: route.summary,
    description: `Scope: ${SCOPES[route.scope]}.`,
    'x-scrapeflow-scope': route.scope,
    security: [{ bearer: [] }],
    ...(parameters.length ? { parameters } : {}),
    ...(route.body
      ? {
          requestBody: {
            ...(route.body.required ? { required: true } : {}),
            ...(route.body.description ? { description: route.body.description } : {}),
            content,
          },
        }
      : {}),
    responses: Object.fromEntries(
      Object.entries(responses)
        .sort(([a], [b]) => Number(a) - Number(b))
        .map(([status, doc]) => [status, response(doc)]),
    ),
  };
}

/**
 * One webhook per event type: a `POST` to the receiver whose body is the event envelope with that
 * type's `data`, signed per Standard Webhooks (`webhook-id` is the event id).
 */
function webhooks() {
  return Object.fromEntries(
    EVENT_TYPES.map((type) => {
      const { summary, data } = EVENT_CATALOGUE[type];
      return [
        type,
        {
          post: {
            summary,
            description:
              'Headers `webhook-id` (the event id), `webhook-timestamp` and `webhook-signature` (Standard ' +
              'Webhooks); a redelivery carries the same id and body.',
            requestBody: {
              required: true,
              content: { 'application/json': { schema: json(envelopeSchema(type, data), 'output') } },
            },
            responses: {
              '2XX': { description: 'delivered' },
              410: { description: 'the endpoint is disabled at once' },
            },
          },
        },
      ];
    }),
  );
}

/** The document of `routes`, served from `serverUrl` when given. */
export function openApiDocument(routes: readonly Route[], serverUrl?: string) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const path = route.url.replace(/:(\w+)/g, '{$1}');
    (paths[path] ??= {})[route.method.toLowerCase()] = operation(route);
  }
  const bodies = Object.fromEntries(
    routes.flatMap((r) => (r.body ? [[r.body.name, json(r.body.schema)] as const] : [])),
  );
  return {
    openapi: '3.1.0',
    info: {
      title: 'scrapeflow',
      version: PACKAGE_VERSION,
      description:
        'Durable OmniScrape batches on Temporal. Every route needs `Authorization: Bearer <token>`: a token of ' +
        '`scrapeflow tokens create` (scoped to accounts, or admin) or SCRAPEFLOW_API_TOKEN (admin). Each ' +
        'operation names its scope in `x-scrapeflow-scope`: ' +
        Object.entries(SCOPES)
          .map(([scope, about]) => `\`${scope}\`: ${about}`)
          .join('; ') +
        '. ' +
        'Errors are `{error, message, field?, line?}`; a 400 names the offending field.',
    },
    ...(serverUrl ? { servers: [{ url: serverUrl }] } : {}),
    security: [{ bearer: [] }],
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: {
        Error: json(errorBodySchema),
        ...bodies,
        BatchProgress: json(batchProgressSchema, 'output'),
      },
    },
    paths,
    webhooks: webhooks(),
  };
}

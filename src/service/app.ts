/**
 * The service's Fastify app: the token check, the error answers, and the routes of routes.ts. It is
 * handed one Temporal client and one store, created once for the process (see server.ts).
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { bearerChecker } from './auth.js';
import { httpAnswer, sendError } from './errors.js';
import type { ServiceDeps } from './route.js';
import { DEFAULT_LIMITS } from './limits.js';
import { ROUTES, UPLOAD_TYPES } from './routes.js';

export type { ServiceDeps } from './route.js';

/** Longest path parameter the router takes; ids longer than MAX_BATCH_ID_LENGTH are refused by validation. */
const MAX_PARAM_LENGTH = 1000;

export async function buildService(deps: ServiceDeps): Promise<FastifyInstance> {
  const { logger } = deps;
  const authorized = bearerChecker(deps.token);
  const limits = { ...DEFAULT_LIMITS, ...deps.limits };
  const app = Fastify({
    logger: false,
    bodyLimit: deps.bodyLimitBytes ?? 10 * 1024 * 1024,
    // A slow or stalled client cannot hold a connection forever (uploads also have their own deadline).
    requestTimeout: limits.requestTimeoutMs,
    connectionTimeout: limits.connectionTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    return503OnClosing: true,
    // Above the longest batch id (encoded, it is the same length: its alphabet needs no escapes), so a
    // longer id reaches validation and gets a 400 naming batchId, not the router's 414.
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
  });

  // Uploaded input files: handed to the handler as the raw stream, parsed line by line.
  app.addContentTypeParser(Object.keys(UPLOAD_TYPES), (_request, payload, done) => done(null, payload));

  app.addHook('onRequest', async (request, reply) => {
    if (authorized(request.headers.authorization)) return;
    void reply.header('www-authenticate', 'Bearer');
    return sendError(reply, {
      status: 401,
      code: 'unauthorized',
      message: 'send Authorization: Bearer <token> (the SCRAPEFLOW_API_TOKEN of this service)',
    });
  });
  app.setErrorHandler((err, request, reply) => {
    const answer = httpAnswer(err);
    if (answer.status >= 500) logger.error({ err, url: request.url }, 'request failed');
    return sendError(reply, answer);
  });
  app.setNotFoundHandler((request, reply) =>
    sendError(reply, {
      status: 404,
      code: 'not_found',
      message: `no route ${request.method} ${request.url}; see GET /openapi.json`,
    }),
  );

  for (const route of ROUTES)
    app.route({
      method: route.method,
      url: route.url,
      handler: (request, reply) => route.handle(deps, request, reply),
    });

  return app;
}

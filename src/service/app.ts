/**
 * The service's Fastify app: the token check and the scope of each route, the error answers, and the
 * routes of routes.ts. It is handed one Temporal client and one store, created once for the process
 * (see server.ts).
 */
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import { authenticatorFor } from '../auth/open.js';
import { canAct } from '../auth/principal.js';
import { batchAccount } from '../client/batches.js';
import { temporalAppError } from '../client/temporal.js';
import { BatchNotFoundError } from '../errors.js';
import { batchParamsSchema } from './schemas.js';
import { httpAnswer, sendError, validate } from './errors.js';
import { principalOf, setPrincipal, type ServiceDeps } from './route.js';
import { DEFAULT_LIMITS } from './limits.js';
import { ROUTES, UPLOAD_TYPES } from './routes.js';

export type { ServiceDeps } from './route.js';

/** Longest path parameter the router takes; ids longer than MAX_BATCH_ID_LENGTH are refused by validation. */
const MAX_PARAM_LENGTH = 1000;

export async function buildService(deps: ServiceDeps): Promise<FastifyInstance> {
  const { logger } = deps;
  const auth = deps.auth ?? authenticatorFor(deps.token, deps.store, logger);
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
    const principal = await auth.principalOf(request.headers.authorization);
    if (principal) return setPrincipal(request, principal);
    void reply.header('www-authenticate', 'Bearer');
    return sendError(reply, {
      status: 401,
      code: 'unauthorized',
      message:
        'send Authorization: Bearer <token> (a token of `scrapeflow tokens create`, or SCRAPEFLOW_API_TOKEN)',
    });
  });

  /**
   * `batch` routes: a scoped token reaches its accounts' batches only. Another account's batch, and a
   * batch whose workflow is gone (its account no longer known), answer as a batch that does not exist.
   */
  const ownBatch = async (request: FastifyRequest) => {
    // A bad id is the 400 naming it here already, so no handler runs unchecked.
    const { batchId } = validate(batchParamsSchema, request.params, '');
    const principal = principalOf(request);
    if (principal.admin) return;
    const account = await batchAccount(deps.client, batchId);
    if (account === undefined || !canAct(principal, account))
      throw new BatchNotFoundError(`no batch ${JSON.stringify(batchId)}`);
  };
  app.setErrorHandler((err, request, reply) => {
    // Temporal unreachable, or the namespace not set up: the documented 503, not an internal error.
    const answer = httpAnswer(temporalAppError(err, deps.client) ?? err);
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
      ...(route.scope === 'batch' ? { onRequest: ownBatch } : {}),
      handler: (request, reply) => route.handle(deps, request, reply),
    });

  return app;
}

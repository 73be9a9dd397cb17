/**
 * The webhook routes of the route table (routes.ts lists them with the others). Endpoints belong to an
 * account: `accounts` routes see and act on the token's accounts' endpoints only, and `webhook` routes
 * answer another account's endpoint as one that does not exist (src/webhooks/manage.ts decides both).
 */
import type { FastifyRequest } from 'fastify';
import { AllowList } from '../webhooks/ssrf.js';
import { webhookStoreOf } from '../webhooks/store.js';
import {
  addEndpoint,
  DEFAULT_GRACE_MS,
  endpointFor,
  endpointInfo,
  listDeliveries,
  listEndpoints,
  redeliver,
  removeEndpoint,
  rotateSecret,
  setEnabled,
  testEndpoint,
  type WebhookContext,
} from '../webhooks/manage.js';
import { validate } from './errors.js';
import { principalOf, type ResponseDoc, type Route, type ServiceDeps } from './route.js';
import {
  addWebhookBodySchema,
  deliveriesQuerySchema,
  eventParamsSchema,
  patchWebhookBodySchema,
  redeliverBodySchema,
  rotateSecretBodySchema,
  webhookParamsSchema,
} from './schemas.js';

const error = (description: string): ResponseDoc => ({ description, error: true });
const NO_WEBHOOK = error("no such webhook endpoint (or another account's)");

function contextOf(deps: ServiceDeps, request: FastifyRequest): WebhookContext {
  const store = webhookStoreOf(deps.store);
  if (!store) throw new Error('this store keeps no webhooks');
  return {
    store,
    principal: principalOf(request),
    allow: new AllowList(deps.webhookAllowHosts),
    accountsFile: deps.accounts,
  };
}

const idOf = (request: FastifyRequest) => validate(webhookParamsSchema, request.params, '').webhookId;

export const WEBHOOK_ROUTES: readonly Route[] = [
  {
    method: 'POST',
    url: '/v1/webhooks',
    scope: 'accounts',
    summary: 'add a webhook endpoint; its whsec_ secret is in this answer only',
    offline: true,
    body: { name: 'AddWebhook', schema: addWebhookBodySchema, required: true },
    responses: {
      201: { description: 'the endpoint: {id, url, account, events, enabled, secret, secretPrefix, ...}' },
      400: error('invalid body, or a URL refused (not https, or a private address): field names it'),
      403: error('the token may not act on the account named'),
    },
    async handle(deps, request, reply) {
      const body = validate(addWebhookBodySchema, request.body, 'body');
      return reply.code(201).send(await addEndpoint(contextOf(deps, request), body));
    },
  },
  {
    method: 'GET',
    url: '/v1/webhooks',
    scope: 'accounts',
    summary: "the webhook endpoints of the token's accounts (secrets as a prefix only)",
    offline: true,
    responses: { 200: { description: '{endpoints: [...]}, each with enabled and disabledReason' } },
    handle: async (deps, request) => ({ endpoints: await listEndpoints(contextOf(deps, request)) }),
  },
  {
    method: 'GET',
    url: '/v1/webhooks/deliveries',
    scope: 'accounts',
    summary: "deliveries of the token's endpoints, newest first, each with its attempts",
    offline: true,
    query: deliveriesQuerySchema,
    responses: {
      200: { description: '{deliveries: [{eventId, endpointId, status, attempts, nextAttemptAt, log}]}' },
      400: error('bad query parameter (named in field)'),
      404: NO_WEBHOOK,
    },
    async handle(deps, request) {
      const q = validate(deliveriesQuerySchema, request.query, 'query');
      const deliveries = await listDeliveries(contextOf(deps, request), {
        ...(q.endpoint ? { endpointId: q.endpoint } : {}),
        ...(q.event ? { eventId: q.event } : {}),
        ...(q.status ? { status: q.status } : {}),
        limit: q.limit,
      });
      return { deliveries };
    },
  },
  {
    method: 'GET',
    url: '/v1/webhooks/:webhookId',
    scope: 'webhook',
    summary: 'one webhook endpoint',
    offline: true,
    responses: { 200: { description: 'the endpoint' }, 404: NO_WEBHOOK },
    handle: async (deps, request) => endpointInfo(await endpointFor(contextOf(deps, request), idOf(request))),
  },
  {
    method: 'PATCH',
    url: '/v1/webhooks/:webhookId',
    scope: 'webhook',
    summary: 'enable or disable a webhook endpoint',
    offline: true,
    body: { name: 'PatchWebhook', schema: patchWebhookBodySchema, required: true },
    responses: { 200: { description: 'the endpoint' }, 400: error('invalid body (field)'), 404: NO_WEBHOOK },
    async handle(deps, request) {
      const id = idOf(request);
      const { enabled } = validate(patchWebhookBodySchema, request.body, 'body');
      return setEnabled(contextOf(deps, request), id, enabled);
    },
  },
  {
    method: 'DELETE',
    url: '/v1/webhooks/:webhookId',
    scope: 'webhook',
    summary: 'remove a webhook endpoint and its deliveries',
    offline: true,
    responses: { 204: { description: 'removed' }, 404: NO_WEBHOOK },
    async handle(deps, request, reply) {
      await removeEndpoint(contextOf(deps, request), idOf(request));
      return reply.code(204).send();
    },
  },
  {
    method: 'POST',
    url: '/v1/webhooks/:webhookId/rotate-secret',
    scope: 'webhook',
    summary: 'a new secret, shown once; the old one signs beside it for the grace period (default 24 h)',
    offline: true,
    body: { name: 'RotateSecret', schema: rotateSecretBodySchema.unwrap().unwrap() },
    responses: {
      200: { description: 'the endpoint with secret and previousExpiresAt' },
      400: error('invalid body (field)'),
      404: NO_WEBHOOK,
    },
    async handle(deps, request) {
      const id = idOf(request);
      const body = validate(rotateSecretBodySchema, request.body, 'body');
      const grace = body?.graceSeconds !== undefined ? body.graceSeconds * 1000 : DEFAULT_GRACE_MS;
      return rotateSecret(contextOf(deps, request), id, grace);
    },
  },
  {
    method: 'POST',
    url: '/v1/webhooks/:webhookId/test',
    scope: 'webhook',
    summary: 'send a signed ping now and answer what the receiver answered',
    offline: true,
    responses: {
      200: { description: '{eventId, status, error, latencyMs, answer}' },
      404: NO_WEBHOOK,
    },
    handle: async (deps, request) => testEndpoint(contextOf(deps, request), idOf(request)),
  },
  {
    method: 'POST',
    url: '/v1/events/:eventId/redeliver',
    scope: 'accounts',
    summary: "send an event again (same id and body) to the token's endpoints it went to, or to one",
    offline: true,
    body: { name: 'Redeliver', schema: redeliverBodySchema.unwrap().unwrap() },
    responses: {
      202: { description: '{eventId, endpoints}' },
      400: error('invalid body (field)'),
      404: error("no such event (or another account's), or no such endpoint"),
    },
    async handle(deps, request, reply) {
      const { eventId } = validate(eventParamsSchema, request.params, '');
      const body = validate(redeliverBodySchema, request.body, 'body');
      return reply.code(202).send(await redeliver(contextOf(deps, request), eventId, body?.endpoint));
    },
  },
];

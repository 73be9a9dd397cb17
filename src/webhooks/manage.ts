/**
 * What `scrapeflow webhooks …` and `/v1/webhooks…` do, for a principal (src/auth/principal.ts): an
 * endpoint belongs to an account, and a token sees and acts on its accounts' endpoints only (another
 * account's answers as one that does not exist, 404); an endpoint of every account (none named) is an
 * admin's. The CLI acts as admin on the store directly (as `scrapeflow tokens` does); the service acts
 * as the request's token.
 */
import { createHash, randomBytes } from 'node:crypto';
import { ACCOUNT_LABEL_PATTERN, ACCOUNT_LABEL_RULE } from '../batch/defaults.js';
import { canAct, type Principal } from '../auth/principal.js';
import { DEFAULT_ACCOUNT, isKnownLabel, type AccountsFile } from '../config/accounts.js';
import {
  AccountForbiddenError,
  EventNotFoundError,
  ValidationError,
  WebhookNotFoundError,
} from '../errors.js';
import { registerSecret } from '../logging/secrets.js';
import { parsePatterns } from './patterns.js';
import { liveSecrets, sendSigned, deliveryAgent, type SendResult } from './send.js';
import { checkEndpointUrl, type AllowList } from './ssrf.js';
import type { Delivery, DeliveryStatus, EndpointInfo, EndpointRecord, WebhookStore } from './types.js';

export const SECRET_PREFIX = 'whsec_';
/** How long a rotated-out secret still signs, ms. @default 24 h */
export const DEFAULT_GRACE_MS = 24 * 3_600_000;

/** A new signing secret: `whsec_` and base64 of 24 random bytes, a secret from birth. */
export function generateSecret(): string {
  const secret = `${SECRET_PREFIX}${randomBytes(24).toString('base64')}`;
  registerSecret(secret);
  return secret;
}

export function newEndpointId(): string {
  return `ep_${randomBytes(8).toString('hex')}`;
}

/** The id of the endpoint made from a URL (ALERT_WEBHOOK_URL): the same in every process. */
export function endpointIdOf(url: string): string {
  return `ep_${createHash('sha256').update(url).digest('hex').slice(0, 16)}`;
}

/** What may be shown of an endpoint: never a whole secret. */
export function endpointInfo({ secrets, ...rest }: EndpointRecord): EndpointInfo {
  return { ...rest, secretPrefix: `${(secrets[0]?.secret ?? '').slice(0, SECRET_PREFIX.length + 4)}…` };
}

export interface WebhookContext {
  store: WebhookStore;
  principal: Principal;
  allow: AllowList;
  accountsFile?: AccountsFile | undefined;
}

const visible = (principal: Principal, e: EndpointRecord) =>
  e.account === undefined ? principal.admin : canAct(principal, e.account);

/** The endpoint, when it exists and the principal may act on it; else WebhookNotFoundError. */
export async function endpointFor(ctx: WebhookContext, id: string): Promise<EndpointRecord> {
  const e = await ctx.store.getEndpoint(id);
  if (!e || !visible(ctx.principal, e))
    throw new WebhookNotFoundError(`no webhook endpoint ${JSON.stringify(id)}`);
  return e;
}

export interface AddEndpointRequest {
  url: string;
  /** Comma list or array of types and patterns; absent: every event. */
  events?: string | readonly string[];
  account?: string;
  description?: string;
  allowHttp?: boolean;
}

function accountOf(ctx: WebhookContext, requested: string | undefined): string | undefined {
  const { principal } = ctx;
  if (requested === undefined) {
    if (principal.admin) return undefined; // every account's
    if (principal.accounts.length === 1) return principal.accounts[0];
    throw new ValidationError('account: name one of the accounts of your token', 'account');
  }
  if (!ACCOUNT_LABEL_PATTERN.test(requested))
    throw new ValidationError(`account: ${JSON.stringify(requested)}: ${ACCOUNT_LABEL_RULE}`, 'account');
  if (ctx.accountsFile && !isKnownLabel(ctx.accountsFile, requested))
    throw new ValidationError(
      `account: ${JSON.stringify(requested)} is not an account of SCRAPEFLOW_ACCOUNTS_FILE; its accounts: ${[DEFAULT_ACCOUNT, ...Object.keys(ctx.accountsFile.entries)].join(', ')}`,
      'account',
    );
  if (!canAct(principal, requested)) throw new AccountForbiddenError(requested, principal.name);
  return requested;
}

/** Adds an endpoint; its secret is in the answer only. */
export async function addEndpoint(
  ctx: WebhookContext,
  request: AddEndpointRequest,
): Promise<EndpointInfo & { secret: string }> {
  const allowHttp = request.allowHttp ?? false;
  // The checks that need no network first: a typo in --events is named even where DNS is down.
  const events = parsePatterns(request.events);
  const account = accountOf(ctx, request.account);
  if (request.description !== undefined && request.description.length > 500)
    throw new ValidationError('description: at most 500 characters', 'description');
  const url = await checkEndpointUrl(request.url, { allowHttp, allow: ctx.allow });
  const secret = generateSecret();
  const record: EndpointRecord = {
    id: newEndpointId(),
    url: url.href,
    ...(account !== undefined ? { account } : {}),
    events,
    ...(request.description ? { description: request.description } : {}),
    allowHttp,
    enabled: true,
    createdAt: new Date().toISOString(),
    secrets: [{ secret }],
  };
  await ctx.store.createEndpoint(record);
  return { ...endpointInfo(record), secret };
}

export async function listEndpoints(ctx: WebhookContext): Promise<EndpointInfo[]> {
  return (await ctx.store.listEndpoints()).filter((e) => visible(ctx.principal, e)).map(endpointInfo);
}

export async function removeEndpoint(ctx: WebhookContext, id: string): Promise<void> {
  await endpointFor(ctx, id);
  await ctx.store.removeEndpoint(id);
}

/** Enables (its pending deliveries go on) or disables (they wait) an endpoint. */
export async function setEnabled(ctx: WebhookContext, id: string, enabled: boolean): Promise<EndpointInfo> {
  await endpointFor(ctx, id);
  await ctx.store.updateEndpoint(
    id,
    enabled
      ? { enabled: true, disabledReason: undefined, disabledAt: undefined, failingSince: undefined }
      : { enabled: false, disabledReason: 'manual', disabledAt: new Date().toISOString() },
  );
  return endpointInfo((await ctx.store.getEndpoint(id))!);
}

/**
 * A new secret; the old one signs beside it (two signatures in `webhook-signature`) for `graceMs`, so
 * a receiver can switch without missing a delivery.
 */
export async function rotateSecret(
  ctx: WebhookContext,
  id: string,
  graceMs = DEFAULT_GRACE_MS,
): Promise<EndpointInfo & { secret: string; previousExpiresAt: string }> {
  const e = await endpointFor(ctx, id);
  const now = new Date();
  const expiresAt = new Date(now.getTime() + graceMs).toISOString();
  const secret = generateSecret();
  const kept = e.secrets.filter((s) => !s.expiresAt || Date.parse(s.expiresAt) > now.getTime());
  const secrets = [
    { secret },
    ...kept.map((s) => ({
      secret: s.secret,
      expiresAt: s.expiresAt && s.expiresAt < expiresAt ? s.expiresAt : expiresAt,
    })),
  ];
  await ctx.store.updateEndpoint(id, { secrets });
  return { ...endpointInfo({ ...e, secrets }), secret, previousExpiresAt: expiresAt };
}

/** Sends a signed `ping` to the endpoint now (outside the outbox) and says what it answered. */
export async function testEndpoint(
  ctx: WebhookContext,
  id: string,
): Promise<SendResult & { eventId: string }> {
  const e = await endpointFor(ctx, id);
  const now = new Date();
  const eventId = `ping_${randomBytes(8).toString('hex')}`;
  const body = JSON.stringify({
    id: eventId,
    type: 'ping',
    timestamp: now.toISOString(),
    sequence: 0,
    data: { endpointId: id },
  });
  const agent = deliveryAgent(ctx.allow);
  try {
    const result = await sendSigned(
      agent,
      ctx.allow,
      { url: e.url, id: eventId, body, secrets: liveSecrets(e.secrets, now) },
      now,
    );
    return { eventId, ...result };
  } finally {
    await agent.close();
  }
}

export interface DeliveriesRequest {
  endpointId?: string;
  eventId?: string;
  status?: DeliveryStatus;
  limit?: number;
}

/** Deliveries and their attempts, newest first, of the endpoints the principal may act on. */
export async function listDeliveries(ctx: WebhookContext, request: DeliveriesRequest): Promise<Delivery[]> {
  if (request.endpointId !== undefined) await endpointFor(ctx, request.endpointId);
  const endpointIds = ctx.principal.admin ? undefined : (await listEndpoints(ctx)).map((e) => e.id);
  return ctx.store.deliveries({
    ...request,
    ...(endpointIds ? { endpointIds } : {}),
  });
}

/**
 * Sends an event again: to `endpointId`, or to every endpoint it was delivered (or due) to that the
 * principal may act on. Same id and body as before.
 */
export async function redeliver(
  ctx: WebhookContext,
  eventId: string,
  endpointId?: string,
): Promise<{ eventId: string; endpoints: string[] }> {
  const event = await ctx.store.eventInfo(eventId);
  if (!event || !canAct(ctx.principal, event.account))
    throw new EventNotFoundError(`no event ${JSON.stringify(eventId)}`);
  let endpoints: string[];
  if (endpointId !== undefined) {
    const e = await endpointFor(ctx, endpointId);
    if (e.account !== undefined && e.account !== event.account)
      throw new ValidationError(
        `endpoint: ${endpointId} receives account ${e.account}'s events, not ${event.account}'s`,
        'endpoint',
      );
    endpoints = [endpointId];
  } else {
    const mine = new Set((await listEndpoints(ctx)).map((e) => e.id));
    endpoints = (await ctx.store.deliveries({ eventId, limit: 1000 }))
      .map((d) => d.endpointId)
      .filter((id) => mine.has(id));
  }
  await ctx.store.redeliver(eventId, endpoints, new Date());
  return { eventId, endpoints };
}

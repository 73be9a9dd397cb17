/** What a route of the HTTP service is (routes.ts lists them) and what its handlers are given. */
import type { Client } from '@temporalio/client';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import type { Authenticator } from '../auth/authenticator.js';
import type { Principal } from '../auth/principal.js';
import type { AccountsFile } from '../config/accounts.js';
import type { Logger } from '../logging/logger.js';
import type { ResultStore } from '../store/types.js';
import type { ServiceLimits } from './limits.js';

export interface ServiceDeps {
  client: Client;
  store: ResultStore;
  /** An admin bearer token (SCRAPEFLOW_API_TOKEN). */
  token?: string;
  /**
   * Resolves every request's bearer token (admin or scoped to accounts).
   * @default SCRAPEFLOW_API_TOKEN (`token`) and the token store beside `store`
   */
  auth?: Authenticator;
  logger: Logger;
  /** Largest JSON body, bytes (uploaded files stream, within `limits`). @default 10 MiB */
  bodyLimitBytes?: number;
  /** Upload caps and timeouts (src/service/limits.ts); each unset one has its default. */
  limits?: Partial<ServiceLimits>;
  /** The plan's concurrency (OMNISCRAPE_PLAN_CONCURRENCY): a batch's default concurrency comes from it. */
  plan?: number;
  /** The accounts file (SCRAPEFLOW_ACCOUNTS_FILE): batches under a label it does not list are refused. */
  accounts?: AccountsFile;
}

/** A documented answer: its description; `error` answers carry the `Error` body. */
export interface ResponseDoc {
  description: string;
  error?: boolean;
  /** The JSON body's component schema (`BatchProgress`). */
  schema?: string;
  /** A body in other media types: media type → what it holds (results as JSON lines or CSV). */
  content?: Record<string, string>;
}

/**
 * What a route needs of the request's token, as the OpenAPI document says (`x-scrapeflow-scope`). Every
 * route needs a valid token (401 otherwise); app.ts enforces `batch` before the handler runs, and the
 * handlers of `start` and `accounts` routes hand the principal to what they call.
 */
export const SCOPES = {
  token: 'any valid token',
  batch:
    "a token of the batch's account (or admin): another account's batch answers 404, as one that does not exist",
  start:
    'a token of the account the batch options name (`account`, else `default`), or admin: another account answers 403',
  accounts: "any valid token: it sees and acts on its accounts' batches only (admin: every account's)",
} as const;
export type Scope = keyof typeof SCOPES;

const principals = new WeakMap<object, Principal>();

/** The principal app.ts resolved for `request` (every handled request has one). */
export function principalOf(request: FastifyRequest): Principal {
  const principal = principals.get(request);
  if (!principal) throw new Error('request handled without a principal');
  return principal;
}

export function setPrincipal(request: FastifyRequest, principal: Principal): void {
  principals.set(request, principal);
}

export interface Route {
  method: 'GET' | 'POST' | 'DELETE';
  /** What the request's token must be allowed (SCOPES). */
  scope: Scope;
  /** Fastify's path syntax: `:batchId` (the document writes `{batchId}`). */
  url: string;
  summary: string;
  /** The query string, validated by the handler and documented as parameters. */
  query?: z.ZodObject;
  /** The JSON body: its schema and the name of its component in the document. */
  body?: { name: string; schema: z.ZodType; required?: boolean; description?: string };
  /** Request bodies besides JSON: media type → description (uploaded input files). */
  uploads?: Record<string, string>;
  /** Answers by status, besides the 401 of every route (no or a wrong token), `offline`'s 503 and `start`'s 403. */
  responses: Record<number, ResponseDoc>;
  /** Answers without Temporal; the other routes answer 503 while it is unreachable. */
  offline?: boolean;
  handle(deps: ServiceDeps, request: FastifyRequest, reply: FastifyReply): unknown;
}

/** What a route of the HTTP service is (routes.ts lists them) and what its handlers are given. */
import type { Client } from '@temporalio/client';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import type { AccountsFile } from '../config/accounts.js';
import type { Logger } from '../logging/logger.js';
import type { ResultStore } from '../store/types.js';
import type { ServiceLimits } from './limits.js';

export interface ServiceDeps {
  client: Client;
  store: ResultStore;
  /** The bearer token every request must present. */
  token: string;
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

export interface Route {
  method: 'GET' | 'POST';
  /** Fastify's path syntax: `:batchId` (the document writes `{batchId}`). */
  url: string;
  summary: string;
  /** The query string, validated by the handler and documented as parameters. */
  query?: z.ZodObject;
  /** The JSON body: its schema and the name of its component in the document. */
  body?: { name: string; schema: z.ZodType; required?: boolean; description?: string };
  /** Request bodies besides JSON: media type → description (uploaded input files). */
  uploads?: Record<string, string>;
  /** Answers by status, besides the 401 of every route (no or a wrong token) and `offline`'s 503. */
  responses: Record<number, ResponseDoc>;
  /** Answers without Temporal; the other routes answer 503 while it is unreachable. */
  offline?: boolean;
  handle(deps: ServiceDeps, request: FastifyRequest, reply: FastifyReply): unknown;
}

/** The service's error answers: `{ error, message, field?, line? }` with the status each case maps to. */
import type { FastifyReply } from 'fastify';
import type { z } from 'zod';
import { describeIssues, unionIssues, ValidationError } from '../batch/options.js';
import { BatchIdTakenError, BatchNotFoundError } from '../client/batches.js';
import { InputError } from '../client/input.js';
import { NothingToRedriveError } from '../client/redrive.js';
import { TemporalNotSetUpError, TemporalUnavailableError } from '../client/temporal.js';

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly extra: { field?: string; line?: number; [key: string]: unknown } = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** Validates `input` or throws a 400 naming the first offending field under `prefix`. */
export function validate<S extends z.ZodType>(schema: S, input: unknown, prefix: string): z.output<S> {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const first = unionIssues(parsed.error.issues)[0];
  const field = [prefix, ...(first?.path.map(String) ?? [])].filter(Boolean).join('.') || prefix;
  throw new HttpError(400, 'invalid_request', describeIssues(parsed.error.issues, prefix), { field });
}

/** Any thrown error as an HttpError (unknown ones become a 500 that hides the details). */
export function toHttpError(err: unknown, prefix = ''): HttpError {
  if (err instanceof HttpError) return err;
  if (err instanceof ValidationError) {
    const field = [prefix, err.field].filter(Boolean).join('.');
    return new HttpError(400, 'invalid_request', err.message, { field });
  }
  if (err instanceof InputError)
    return new HttpError(400, 'invalid_input', err.message, { field: 'body', line: err.line });
  if (err instanceof BatchNotFoundError) return new HttpError(404, 'batch_not_found', err.message);
  if (err instanceof NothingToRedriveError) return new HttpError(409, err.code, err.message);
  if (err instanceof TemporalUnavailableError) return new HttpError(503, 'temporal_unavailable', err.message);
  if (err instanceof BatchIdTakenError)
    return new HttpError(409, err.code, err.message, { field: err.field, state: err.state });
  if (err instanceof TemporalNotSetUpError)
    return new HttpError(503, err.code, err.message, { missing: err.missing });
  const fastifyError = err as { statusCode?: number; code?: string; message?: string };
  if (
    typeof fastifyError.statusCode === 'number' &&
    fastifyError.statusCode >= 400 &&
    fastifyError.statusCode < 500
  )
    return new HttpError(fastifyError.statusCode, 'invalid_request', fastifyError.message ?? 'bad request', {
      field: 'body',
    });
  return new HttpError(500, 'internal_error', 'internal error (see the service log)');
}

export function sendError(reply: FastifyReply, err: HttpError): FastifyReply {
  if (err.status === 429 || err.status === 503) void reply.header('retry-after', '5');
  return reply.code(err.status).send({ error: err.code, message: err.message, ...err.extra });
}

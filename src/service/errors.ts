/**
 * The service's error answers: `{ error, message, field?, line? }` with the status each case maps to.
 * An application error answers as `ERROR_ANSWERS` says (src/errors.ts); the cases below are the HTTP
 * protocol's own (a missing token, an unknown route, a body Fastify refused).
 */
import type { FastifyReply } from 'fastify';
import type { z } from 'zod';
import { describeIssues, unionIssues } from '../batch/options.js';
import { answerOf, isAppError, ValidationError } from '../errors.js';

/** An error answer: the HTTP status and the JSON body `{ error: code, message, ...extra }`. */
export interface HttpAnswer {
  status: number;
  code: string;
  message: string;
  extra?: { field?: string; line?: number; [key: string]: unknown };
}

/** Validates `input` or throws a `ValidationError` (400) naming the first offending field under `prefix`. */
export function validate<S extends z.ZodType>(schema: S, input: unknown, prefix: string): z.output<S> {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const first = unionIssues(parsed.error.issues)[0];
  const field = [prefix, ...(first?.path.map(String) ?? [])].filter(Boolean).join('.') || prefix;
  throw new ValidationError(describeIssues(parsed.error.issues, prefix), field);
}

/** `err`, when it is a `ValidationError`, naming its field under `prefix` (`options.retry.upstreamRetries`). */
export function underField(prefix: string, err: unknown): unknown {
  if (!isAppError(err, 'invalid_request')) return err;
  return new ValidationError(err.message, [prefix, err.field].filter(Boolean).join('.'), err);
}

/** The answer to any thrown error (an unknown one is a 500 that hides the details). */
export function httpAnswer(err: unknown): HttpAnswer {
  if (isAppError(err)) {
    const answer = answerOf(err);
    if (answer.status !== undefined)
      return { status: answer.status, code: err.code, message: err.message, extra: answer.body?.(err) ?? {} };
  }
  const fastifyError = err as { statusCode?: number; code?: string; message?: string };
  if (
    typeof fastifyError.statusCode === 'number' &&
    fastifyError.statusCode >= 400 &&
    fastifyError.statusCode < 500
  )
    return {
      status: fastifyError.statusCode,
      code: 'invalid_request',
      message: fastifyError.message ?? 'bad request',
      extra: { field: 'body' },
    };
  return { status: 500, code: 'internal_error', message: 'internal error (see the service log)' };
}

export function sendError(reply: FastifyReply, answer: HttpAnswer): FastifyReply {
  if (answer.status === 429 || answer.status === 503) void reply.header('retry-after', '5');
  return reply.code(answer.status).send({ error: answer.code, message: answer.message, ...answer.extra });
}

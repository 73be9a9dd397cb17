/**
 * Errors the local API answers with, and how zod issues become a 400 that names the field.
 *
 * Every error body is `{ error, message, field? }`; a 429 also carries a `Retry-After` header in seconds.
 */
import type { z } from 'zod';

export type ApiErrorCode =
  | 'invalid_api_key'
  | 'insufficient_balance'
  | 'rate_limited'
  | 'invalid_request'
  | 'not_found'
  | 'internal_error';

export interface ApiErrorBody {
  error: ApiErrorCode;
  message: string;
  field?: string;
}

/** An answer other than 200, thrown or returned by the route code and written by `sendApiError`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: ApiErrorCode,
    message: string,
    readonly options: { field?: string; retryAfterSec?: number } = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }

  get body(): ApiErrorBody {
    const body: ApiErrorBody = { error: this.code, message: this.message };
    if (this.options.field !== undefined) body.field = this.options.field;
    return body;
  }
}

export const badRequest = (field: string, message: string): ApiError =>
  new ApiError(400, 'invalid_request', `${field}: ${message}`, { field });

/** The error code a forced or real status maps to. */
export function codeForStatus(status: number): ApiErrorCode {
  switch (status) {
    case 401:
      return 'invalid_api_key';
    case 402:
      return 'insufficient_balance';
    case 429:
      return 'rate_limited';
    case 404:
      return 'not_found';
    case 400:
      return 'invalid_request';
    default:
      return 'internal_error';
  }
}

/** The dotted path a zod issue points at (`css_selectors.title`, `accounts.0.key`); unknown keys name the key. */
export function issueField(issue: z.core.$ZodIssue, prefix = ''): string {
  const path = issue.path.map(String);
  if (issue.code === 'unrecognized_keys' && issue.keys[0] !== undefined) path.push(issue.keys[0]);
  const joined = path.join('.');
  if (prefix === '') return joined === '' ? 'body' : joined;
  return joined === '' ? prefix : `${prefix}.${joined}`;
}

/** The first issue of a failed parse as `{ field, message }`. */
export function firstIssue(error: z.ZodError, prefix = ''): { field: string; message: string } {
  const issue = error.issues[0];
  if (!issue) return { field: prefix || 'body', message: 'is invalid' };
  const message = issue.code === 'unrecognized_keys' ? 'is not a known field' : issue.message;
  return { field: issueField(issue, prefix), message };
}

/** Every issue of a failed parse, one `field: message` per line (for config files). */
export function describeIssues(error: z.ZodError, prefix = ''): string {
  return error.issues
    .map((issue) => {
      const message = issue.code === 'unrecognized_keys' ? 'is not a known field' : issue.message;
      return `${issueField(issue, prefix)}: ${message}`;
    })
    .join('\n');
}

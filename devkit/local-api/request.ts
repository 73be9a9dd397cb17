/** Validation of scrape requests: every problem becomes a 400 naming the field. */
import { scrapeRequestSchema, type ScrapeRequest } from '../../src/omniscrape/types.js';
import { badRequest, firstIssue } from './api-error.js';
import { selectorError } from '../../src/batch/selectors.js';

/** The validated request (defaults applied), or throws an `ApiError` 400 naming the field. */
export function parseScrapeRequest(body: unknown): ScrapeRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw badRequest('body', 'must be a JSON object');
  const parsed = scrapeRequestSchema.safeParse(body);
  if (!parsed.success) {
    const { field, message } = firstIssue(parsed.error);
    throw badRequest(field, message);
  }
  for (const [name, selector] of Object.entries(parsed.data.css_selectors ?? {})) {
    const problem = selectorError(selector);
    if (problem) throw badRequest(`css_selectors.${name}`, problem);
  }
  return parsed.data;
}

/** The `Idempotency-Key` header: absent, or 1 to 255 visible ASCII characters (as the client allows). */
export function parseIdempotencyKey(value: string | string[] | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (Array.isArray(value) || !/^[\x21-\x7e]{1,255}$/.test(value))
    throw badRequest('Idempotency-Key', 'must be one header of 1 to 255 visible ASCII characters');
  return value;
}

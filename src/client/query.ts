/** Visibility queries: what goes into them. */
import { ValidationError } from '../errors.js';

/**
 * A string literal of a visibility query. Values come from validated fields (states, reasons, batch ids,
 * account labels: ACCOUNT_LABEL_PATTERN) that hold no quote or backslash; one that did is refused rather
 * than altered, since an altered value would select other workflows.
 */
export function quote(value: string): string {
  if (/['"\\]/.test(value))
    throw new ValidationError(`${JSON.stringify(value)} cannot go into a query`, 'query');
  return `'${value}'`;
}

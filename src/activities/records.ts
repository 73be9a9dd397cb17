/**
 * What every activity that ends a URL shares: the tags and lineage a record carries, the verdict of the
 * batch's field schema, and the small summary the workflow sees of a record.
 */
import { checkFields } from '../batch/field-schema.js';
import type { ResultRecord } from '../store/types.js';
import type { UrlSummary, UrlWorkflowInput } from '../workflows/types.js';

/** The batch's tags and the URL's own, once each. */
export const tagsOf = (input: UrlWorkflowInput): string[] => [
  ...new Set([...input.options.tags, ...(input.item.tags ?? [])]),
];

/** Tags and re-drive lineage, as every record of the URL carries them. */
export function provenanceOf(input: UrlWorkflowInput): Pick<ResultRecord, 'tags' | 'redrivenFrom'> {
  return {
    tags: tagsOf(input),
    ...(input.item.redrivenFrom ? { redrivenFrom: input.item.redrivenFrom } : {}),
  };
}

export interface Verdict {
  status: ResultRecord['status'];
  reason?: string;
  detail?: string;
}

/** A success whose extracted fields break the batch's schema becomes a dead letter, saying why. */
export function applySchema(
  verdict: Verdict,
  fields: Record<string, string | null> | undefined,
  input: UrlWorkflowInput,
): Verdict {
  const { schema } = input.options;
  if (verdict.status !== 'succeeded' || !schema || !fields) return verdict;
  const problems = checkFields(fields, schema);
  return problems.length
    ? { status: 'dead_lettered', reason: 'schema_violation', detail: problems.join('; ') }
    : verdict;
}

/** What the batch sees of a terminal record. */
export function summaryOf(record: ResultRecord): UrlSummary {
  return {
    index: record.index,
    status: record.status,
    ...(record.reason ? { reason: record.reason } : {}),
    charged: record.charged,
    ...(record.methodUsed ? { methodUsed: record.methodUsed } : {}),
    ...(record.balanceAfter !== undefined ? { balanceAfter: record.balanceAfter } : {}),
    attempts: record.attempts,
    tags: record.tags ?? [],
  };
}

/**
 * What every activity that ends a URL shares: the tags and lineage a record carries, the verdict of the
 * batch's field schema, and the small summary the workflow sees of a record.
 */
import { checkFields } from '../batch/field-schema.js';
import type { ResultRecord, ResultStore } from '../store/types.js';
import type { UrlSummary, UrlTask } from '../workflows/types.js';

/** The batch's tags and the URL's own, once each. */
export const tagsOf = (input: UrlTask): string[] => [
  ...new Set([...input.options.tags, ...(input.item.tags ?? [])]),
];

/** Tags and re-drive lineage, as every record of the URL carries them. */
export function provenanceOf(input: UrlTask): Pick<ResultRecord, 'tags' | 'redrivenFrom'> {
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
  input: UrlTask,
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
    status: record.status,
    ...(record.reason ? { reason: record.reason } : {}),
    charged: record.charged,
    ...(record.methodUsed ? { methodUsed: record.methodUsed } : {}),
    ...(record.balanceAfter !== undefined ? { balanceAfter: record.balanceAfter } : {}),
  };
}

/**
 * On a retry (`attempt` > 1), the summary of the URL's record when an earlier try wrote it: that try
 * ended the URL and lost only its completion (a worker or server restart), and calling again, or
 * opening another session, would be charged again. Undefined when there is no such record.
 */
export async function earlierTryRecord(
  store: ResultStore,
  input: UrlTask,
  attempt: number,
): Promise<UrlSummary | undefined> {
  if (attempt <= 1) return undefined;
  const earlier = await store.getResult(input.batchId, input.item.index);
  return earlier && summaryOf(earlier);
}

/** What only the activity that ends the URL knows; the rest of the record comes from its input. */
export type RecordDetails = Omit<
  ResultRecord,
  'batchId' | 'index' | 'url' | 'status' | 'reason' | 'detail' | 'tags' | 'redrivenFrom' | 'finishedAt'
>;

/** Writes the URL's terminal record (idempotent by batch and index) and returns its summary. */
export async function writeRecord(
  store: ResultStore,
  input: UrlTask,
  { status, reason, detail }: Verdict,
  details: RecordDetails,
): Promise<UrlSummary> {
  const record: ResultRecord = {
    batchId: input.batchId,
    index: input.item.index,
    url: input.item.url,
    status,
    ...(reason ? { reason } : {}),
    ...(detail ? { detail } : {}),
    ...details,
    ...provenanceOf(input),
    finishedAt: new Date().toISOString(),
  };
  await store.putResult(record);
  return summaryOf(record);
}

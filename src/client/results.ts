/**
 * Result export: a batch's records as JSONL or CSV text, produced lazily from the store's stream, one
 * record at a time (shared by `scrapeflow results` and the HTTP service).
 */
import {
  BATCH_ID_PATTERN,
  type ResultRecord,
  type ResultStore,
  type TerminalStatus,
} from '../store/types.js';
import { BatchNotFoundError } from './batches.js';

export const RESULT_FORMATS = ['jsonl', 'csv'] as const;
export type ResultFormat = (typeof RESULT_FORMATS)[number];

/** CSV columns, in order. `fields`, `redrivenFrom` and `redrivenTo` hold JSON; `tags` joins with `;`. */
export const CSV_COLUMNS = [
  'batchId',
  'index',
  'url',
  'status',
  'reason',
  'detail',
  'methodUsed',
  'solverUsed',
  'challengeSolved',
  'charged',
  'balanceAfter',
  'attempts',
  'tags',
  'fields',
  'contentRef',
  'jobId',
  'redrivenFrom',
  'redrivenTo',
  'duplicateOf',
  'finishedAt',
] as const;

export function csvField(value: unknown): string {
  if (value === undefined || value === null) return '';
  const text =
    typeof value === 'string'
      ? value
      : typeof value === 'number' || typeof value === 'boolean'
        ? String(value)
        : JSON.stringify(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function csvRow(record: ResultRecord): string {
  return CSV_COLUMNS.map((column) =>
    csvField(column === 'tags' ? (record.tags ?? []).join(';') : record[column]),
  ).join(',');
}

/** The export as text chunks: one line per record (CSV starts with its header line). */
export async function* formatResults(
  records: AsyncIterable<ResultRecord>,
  format: ResultFormat,
): AsyncIterable<string> {
  if (format === 'csv') yield `${CSV_COLUMNS.join(',')}\n`;
  for await (const record of records)
    yield format === 'csv' ? `${csvRow(record)}\n` : `${JSON.stringify(record)}\n`;
}

/** Checks the batch has stored input (else `BatchNotFoundError`), then streams its records. */
export async function exportResults(
  store: ResultStore,
  batchId: string,
  filter: { status?: TerminalStatus | TerminalStatus[]; tag?: string } = {},
): Promise<AsyncIterable<ResultRecord>> {
  if (!BATCH_ID_PATTERN.test(batchId) || (await store.inputCount(batchId)) === undefined)
    throw new BatchNotFoundError(`no batch ${JSON.stringify(batchId)} in the result store`);
  return store.listResults(batchId, filter);
}

/**
 * Result export: a batch's records as JSONL or CSV text (csv-stringify), produced lazily from the
 * store's stream, one record at a time (shared by `scrapeflow results` and the HTTP service).
 */
import {
  BATCH_ID_PATTERN,
  type ResultRecord,
  type ResultStore,
  type TerminalStatus,
} from '../store/types.js';
import { stringify, type Options as StringifyOptions } from 'csv-stringify/sync';
import { BatchNotFoundError } from '../errors.js';

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

/**
 * csv-stringify settings for the export. A cell a spreadsheet would read as a formula (one starting
 * with `=`, `+`, `-`, `@`, tab or carriage return, or their full-width forms) gets a leading `'` and is
 * quoted, as OWASP's CSV Injection page advises: urls, tags, reasons, details and the JSON of
 * selector names and values are the user's or a page's text. Numbers are left as they are.
 */
export const CSV_OPTIONS: StringifyOptions = {
  escape_formulas: true,
  quoted_match: /^[=+\-@\t\r\uFF1D\uFF0B\uFF0D\uFF20]/,
  cast: { boolean: (value) => String(value), object: (value) => JSON.stringify(value) },
};

/** One record as a CSV line (with its line end). */
export function csvRow(record: ResultRecord): string {
  const cells = CSV_COLUMNS.map((column) =>
    column === 'tags' ? (record.tags ?? []).join(';') : record[column],
  );
  return stringify([cells], CSV_OPTIONS);
}

/** The export as text chunks: one line per record (CSV starts with its header line). */
export async function* formatResults(
  records: AsyncIterable<ResultRecord>,
  format: ResultFormat,
): AsyncIterable<string> {
  if (format === 'csv') yield stringify([[...CSV_COLUMNS]], CSV_OPTIONS);
  for await (const record of records) yield format === 'csv' ? csvRow(record) : `${JSON.stringify(record)}\n`;
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

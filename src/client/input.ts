/**
 * Batch input files, streamed: one URL per line, CSV with a `url` column, or JSONL with a `url` field.
 * Lines are read a chunk at a time (src/client/input-lines.ts) and items yielded one by one, so a file
 * of a million URLs is never held in memory. Every problem names its 1-based line number.
 *
 * Formats:
 * - `text`: one URL per line; blank lines and lines starting with `#` are skipped.
 * - `csv`: a header row naming a `url` column (any position, case-insensitive) and optionally a `tags`
 *   column whose value lists tags separated by `;` or `|`. Quoted fields (`"a,b"`, `""` for a quote,
 *   line breaks) are read by csv-parse (src/client/input-csv.ts); an error names the line where the
 *   record starts. A quote that is never closed rejects the file, also with `skipInvalid`.
 * - `jsonl` (also `.ndjson`): one JSON object per line, `{"url": "...", "tags": ["a", "b"]}`, optionally
 *   with `"steps": [...]`: browser steps for that URL alone (src/batch/steps.ts, validated like the
 *   batch's; a bad one names the line and the field, `line 3: steps[1].selector: is required`). A URL
 *   with steps runs in a browser session, the others of the batch on the HTTP path (unless the batch has
 *   steps). Text and CSV lines carry no steps: use JSONL (or the batch's `steps`) for interactive pages.
 */
import { describeIssues, formatPath, OPTION_LIMITS, protoKeyPath } from '../batch/options.js';
import { stepsSchema, type Step } from '../batch/steps.js';
import { httpUrl } from '../omniscrape/types.js';
import type { UrlItem } from '../store/types.js';
import { csvRecords } from './input-csv.js';
import { inputLines } from './input-lines.js';
import { InputError, isAppError } from '../errors.js';
import type { InputFormat } from './input-format.js';

export { MAX_LINE_BYTES } from './input-lines.js';

export interface ParseInputOptions {
  /** @default 'text' */
  format?: InputFormat;
  /**
   * Skip invalid lines (a bad URL or field, bytes that are not UTF-8, a line over `MAX_LINE_BYTES`)
   * instead of rejecting the whole input; each skipped line is reported to `onSkip`.
   * @default false (the first bad line rejects the input)
   */
  skipInvalid?: boolean;
  /** Called for every skipped invalid line (only with `skipInvalid`). */
  onSkip?: (error: InputError) => void;
}

function checkUrl(raw: string, line: number): string {
  const url = raw.trim();
  const checked = httpUrl.safeParse(url);
  if (!checked.success)
    throw new InputError(
      `${JSON.stringify(url.slice(0, 200))} is not a valid http(s) URL (${checked.error.issues[0]?.message ?? 'invalid'})`,
      line,
    );
  return url;
}

function checkTags(value: unknown, line: number): string[] | undefined {
  const list =
    typeof value === 'string'
      ? value.split(/[;|]/)
      : Array.isArray(value) && value.every((t) => typeof t === 'string')
        ? value
        : undefined;
  if (value === undefined || value === null) return undefined;
  if (!list) throw new InputError('"tags" must be a string or an array of strings', line);
  const tags = list.map((t) => t.trim()).filter(Boolean);
  if (tags.length > OPTION_LIMITS.tags)
    throw new InputError(`has ${tags.length} tags, over the ${OPTION_LIMITS.tags} a line may carry`, line);
  for (const tag of tags)
    if (tag.length > 100)
      throw new InputError(`tag ${JSON.stringify(tag.slice(0, 40))}… is over 100 characters`, line);
  return tags.length ? tags : undefined;
}

function checkSteps(value: unknown, line: number): Step[] | undefined {
  if (value === undefined || value === null) return undefined;
  const proto = protoKeyPath(value, ['steps']);
  if (proto)
    throw new InputError(`${formatPath(proto)}: "__proto__" is a reserved name; choose another`, line);
  const parsed = stepsSchema.safeParse(value);
  if (!parsed.success) throw new InputError(describeIssues(parsed.error.issues, 'steps'), line);
  return parsed.data;
}

type Item = Omit<UrlItem, 'index'>;

/**
 * Parses an input stream into URL items, lazily. Throws an `InputError` naming the first bad line,
 * unless `skipInvalid` is set.
 */
export async function* parseInput(
  source: AsyncIterable<Uint8Array | string>,
  options: ParseInputOptions = {},
): AsyncIterable<Item> {
  const format = options.format ?? 'text';
  const reject = (error: InputError): void => {
    if (!options.skipInvalid) throw error;
    options.onSkip?.(error);
  };
  const checked = <T>(check: () => T): T | undefined => {
    try {
      return check();
    } catch (err) {
      if (!isAppError(err, 'invalid_input')) throw err;
      reject(err);
      return undefined;
    }
  };
  if (format === 'csv') {
    let columns: CsvColumns | undefined;
    for await (const { line, fields } of csvRecords(inputLines(source), reject)) {
      if (!columns) columns = csvColumns(fields, line);
      else {
        const item = checked(() => csvItem(fields, line, columns as CsvColumns));
        if (item) yield item;
      }
    }
    if (!columns) throw new InputError('the CSV file has no header row with a "url" column', 1);
    return;
  }
  for await (const entry of inputLines(source)) {
    if ('error' in entry) reject(entry.error);
    else {
      const item = checked(() => parseLine(format, entry.text, entry.line));
      if (item) yield item;
    }
  }
}

function parseLine(format: 'text' | 'jsonl', text: string, line: number): Item | undefined {
  const trimmed = text.trim();
  if (trimmed === '') return undefined;
  if (format === 'text') {
    if (trimmed.startsWith('#')) return undefined;
    return { url: checkUrl(trimmed, line) };
  }
  let value: unknown;
  try {
    value = JSON.parse(trimmed);
  } catch (err) {
    throw new InputError(`is not JSON (${(err as Error).message})`, line);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new InputError('must be a JSON object with a "url" field', line);
  const record = value as Record<string, unknown>;
  if (typeof record.url !== 'string') throw new InputError('has no "url" string field', line);
  const tags = checkTags(record.tags, line);
  const url = checkUrl(record.url, line);
  const steps = checkSteps(record.steps, line);
  return { url, ...(tags ? { tags } : {}), ...(steps ? { steps } : {}) };
}

/** Positions of the CSV columns read: `url` (required) and `tags` (-1 when absent). */
interface CsvColumns {
  url: number;
  tags: number;
}

/** The columns the header row names; a header without `url` rejects the file (skipped or not). */
function csvColumns(fields: string[], line: number): CsvColumns {
  const names = fields.map((f) => f.trim().toLowerCase());
  const url = names.indexOf('url');
  if (url === -1)
    throw new InputError(
      `the CSV header ${JSON.stringify(fields.join(',').slice(0, 200))} has no "url" column`,
      line,
    );
  return { url, tags: names.indexOf('tags') };
}

function csvItem(fields: string[], line: number, columns: CsvColumns): Item {
  const url = fields[columns.url];
  if (url === undefined || url.trim() === '') throw new InputError('has no value in the "url" column', line);
  const tags = columns.tags >= 0 ? checkTags(fields[columns.tags] ?? '', line) : undefined;
  return { url: checkUrl(url, line), ...(tags ? { tags } : {}) };
}

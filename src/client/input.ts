/**
 * Batch input files, streamed: one URL per line, CSV with a `url` column, or JSONL with a `url` field.
 * Lines are read a chunk at a time and yielded one by one, so a file of a million URLs is never held in
 * memory. Every problem names its 1-based line number.
 *
 * Formats:
 * - `text`: one URL per line; blank lines and lines starting with `#` are skipped.
 * - `csv`: a header row naming a `url` column (any position, case-insensitive) and optionally a `tags`
 *   column whose value lists tags separated by `;` or `|`. Quoted fields (`"a,b"`, `""` for a quote)
 *   are understood; a quoted field spanning lines is not.
 * - `jsonl` (also `.ndjson`): one JSON object per line, `{"url": "...", "tags": ["a", "b"]}`, optionally
 *   with `"steps": [...]`: browser steps for that URL alone (src/batch/steps.ts, validated like the
 *   batch's; a bad one names the line and the field, `line 3: steps[1].selector: is required`). A URL
 *   with steps runs in a browser session, the others of the batch on the HTTP path (unless the batch has
 *   steps). Text and CSV lines carry no steps: use JSONL (or the batch's `steps`) for interactive pages.
 */
import { extname } from 'node:path';
import { describeIssues } from '../batch/options.js';
import { stepsSchema, type Step } from '../batch/steps.js';
import { httpUrl } from '../omniscrape/types.js';
import type { UrlItem } from '../store/types.js';

export const INPUT_FORMATS = ['text', 'csv', 'jsonl'] as const;
export type InputFormat = (typeof INPUT_FORMATS)[number];

/** Longest accepted line, in bytes: a file without newlines must not fill memory. */
export const MAX_LINE_BYTES = 64 * 1024;

/** A bad line in an input file. */
export class InputError extends Error {
  override readonly name = 'InputError';
  readonly code = 'invalid_input';
  constructor(
    message: string,
    /** 1-based line number. */
    readonly line: number,
  ) {
    super(`line ${line}: ${message}`);
  }
}

export interface ParseInputOptions {
  /** @default 'text' */
  format?: InputFormat;
  /**
   * Skip invalid lines instead of rejecting the whole input; each skipped line is reported to
   * `onSkip`. @default false (the first bad line rejects the input)
   */
  skipInvalid?: boolean;
  /** Called for every skipped invalid line (only with `skipInvalid`). */
  onSkip?: (error: InputError) => void;
}

/** The format a file name implies: `.csv`, `.jsonl` / `.ndjson`, anything else `text`. */
export function formatOfPath(path: string): InputFormat {
  const ext = extname(path).toLowerCase();
  if (ext === '.csv') return 'csv';
  if (ext === '.jsonl' || ext === '.ndjson') return 'jsonl';
  return 'text';
}

/** Splits a byte stream into decoded lines (UTF-8, strict), with their 1-based numbers. */
export async function* lines(
  source: AsyncIterable<Uint8Array | string>,
): AsyncIterable<{ line: number; text: string }> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let line = 0;
  const emit = (bytes: Buffer): string => {
    line += 1;
    try {
      // Strict decoding (a BOM at the start is dropped).
      const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
      return text.endsWith('\r') ? text.slice(0, -1) : text;
    } catch {
      throw new InputError('is not valid UTF-8 (save the file as UTF-8)', line);
    }
  };
  for await (const chunk of source) {
    let buf = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.from(chunk);
    for (;;) {
      const nl = buf.indexOf(0x0a);
      if (nl === -1) {
        pending.push(buf);
        pendingBytes += buf.length;
        if (pendingBytes > MAX_LINE_BYTES)
          throw new InputError(`is longer than ${MAX_LINE_BYTES} bytes (one URL per line?)`, line + 1);
        break;
      }
      const head = buf.subarray(0, nl);
      const bytes = pending.length ? Buffer.concat([...pending, head]) : head;
      pending = [];
      pendingBytes = 0;
      if (bytes.length > MAX_LINE_BYTES)
        throw new InputError(`is longer than ${MAX_LINE_BYTES} bytes (one URL per line?)`, line + 1);
      yield { line: line + 1, text: emit(bytes) };
      buf = buf.subarray(nl + 1);
    }
  }
  if (pendingBytes > 0) yield { line: line + 1, text: emit(Buffer.concat(pending)) };
}

/** Splits one CSV record (RFC 4180 quoting, no embedded newlines). */
export function splitCsvLine(text: string): string[] {
  const out: string[] = [];
  let field = '';
  let quoted = false;
  let i = 0;
  let fieldStart = true;
  while (i < text.length) {
    const c = text[i] as string;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i += 2;
        continue;
      }
      if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"' && fieldStart) {
      quoted = true;
    } else if (c === ',') {
      out.push(field);
      field = '';
      fieldStart = true;
      i += 1;
      continue;
    } else {
      field += c;
    }
    fieldStart = false;
    i += 1;
  }
  if (quoted) throw new Error('has an unterminated quoted field');
  out.push(field);
  return out;
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
  for (const tag of tags)
    if (tag.length > 100)
      throw new InputError(`tag ${JSON.stringify(tag.slice(0, 40))}… is over 100 characters`, line);
  return tags.length ? tags : undefined;
}

function checkSteps(value: unknown, line: number): Step[] | undefined {
  if (value === undefined || value === null) return undefined;
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
  let columns: { url: number; tags: number } | undefined;
  for await (const { line, text } of lines(source)) {
    let item: Item | undefined;
    try {
      item = parseLine(format, text, line, columns, (found) => (columns = found));
    } catch (err) {
      if (!(err instanceof InputError) || !options.skipInvalid) throw err;
      options.onSkip?.(err);
      continue;
    }
    if (item) yield item;
  }
  if (format === 'csv' && !columns)
    throw new InputError('the CSV file has no header row with a "url" column', 1);
}

function parseLine(
  format: InputFormat,
  text: string,
  line: number,
  columns: { url: number; tags: number } | undefined,
  setColumns: (c: { url: number; tags: number }) => void,
): Item | undefined {
  const trimmed = text.trim();
  if (trimmed === '') return undefined;
  if (format === 'text') {
    if (trimmed.startsWith('#')) return undefined;
    return { url: checkUrl(trimmed, line) };
  }
  if (format === 'jsonl') {
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
  let fields: string[];
  try {
    fields = splitCsvLine(text);
  } catch (err) {
    throw new InputError((err as Error).message, line);
  }
  if (!columns) {
    const names = fields.map((f) => f.trim().toLowerCase());
    const url = names.indexOf('url');
    if (url === -1)
      throw new InputError(`the CSV header ${JSON.stringify(text.slice(0, 200))} has no "url" column`, line);
    setColumns({ url, tags: names.indexOf('tags') });
    return undefined;
  }
  const url = fields[columns.url];
  if (url === undefined || url.trim() === '') throw new InputError('has no value in the "url" column', line);
  const tags = columns.tags >= 0 ? checkTags(fields[columns.tags] ?? '', line) : undefined;
  return { url: checkUrl(url, line), ...(tags ? { tags } : {}) };
}

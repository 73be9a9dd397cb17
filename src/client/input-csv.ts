/**
 * CSV records of a batch input, parsed by csv-parse (RFC 4180: quoted fields may hold `,`, `""` and
 * line breaks), streamed in bounded memory, each with the line it starts on.
 *
 * The input's lines come from `inputLines`, so a line that is not UTF-8 or is over-long is reported
 * with its own number, in order with the records around it; it reaches the parser as an empty line, so
 * csv-parse's line count stays the file's. A record that spans such a line (inside a quoted field) is
 * rejected too: its text is not the file's.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parse } from 'csv-parse';
import { InputError, MAX_LINE_BYTES, type InputLine } from './input-lines.js';

/** One CSV record and the 1-based line it starts on. */
export interface CsvRecord {
  line: number;
  fields: string[];
}

/** Lines handed to the parser at once, in characters. */
const CHUNK_CHARS = 16 * 1024;

/**
 * The line a record (or the part of it read so far) starts on, from its raw text and csv-parse's line
 * count, which moves past a newline only once the character after it is read.
 */
const startLine = (lines: number, raw: string): number => {
  let newlines = raw.endsWith('\n') ? -1 : 0;
  for (let i = raw.indexOf('\n'); i !== -1; i = raw.indexOf('\n', i + 1)) newlines += 1;
  return Math.max(1, lines - newlines);
};

/** The error for what csv-parse refused, naming the line where the refused record starts. */
function csvInputError(err: { code: string; message: string; lines?: number; raw?: string }): InputError {
  const line = startLine(err.lines ?? 1, err.raw ?? '');
  if (err.code === 'CSV_QUOTE_NOT_CLOSED')
    return new InputError('has a quoted field that is never closed (a lone ")', line);
  if (err.code === 'CSV_MAX_RECORD_SIZE')
    return new InputError(
      `starts a CSV record longer than ${MAX_LINE_BYTES} characters (a quoted field never closed?)`,
      line,
    );
  return new InputError(`is not valid CSV (${err.message})`, line);
}

const isCsvError = (err: unknown): err is { code: string; message: string; lines?: number; raw?: string } =>
  err instanceof Error && String((err as { code?: unknown }).code).startsWith('CSV_');

/**
 * The non-blank records of `lines`. Every problem goes to `reject` in input order: an unreadable line
 * (its `InputLine` error), then a record spanning it. `reject` throws to stop the input, or returns to
 * skip. A structural CSV error (a quote never closed) throws: nothing after it can be read as records.
 */
export async function* csvRecords(
  lines: AsyncIterable<InputLine>,
  reject: (error: InputError) => void,
): AsyncIterable<CsvRecord> {
  /** Unreadable lines the parser has passed as empty lines, not yet reported. */
  const unread: InputError[] = [];
  async function* text(): AsyncIterable<string> {
    let chunk = '';
    for await (const entry of lines) {
      if ('error' in entry) {
        unread.push(entry.error);
        chunk += '\n';
      } else chunk += `${entry.text}\n`;
      if (chunk.length >= CHUNK_CHARS) {
        yield chunk;
        chunk = '';
      }
    }
    if (chunk !== '') yield chunk;
  }
  const parser = parse({
    record_delimiter: '\n',
    // Lenient, as hand-made URL files need: rows may have fewer or more fields than the header, and a
    // quote inside an unquoted field is a character.
    relax_column_count: true,
    relax_quotes: true,
    // Empty lines stay records so that each record's raw text gives the line it starts on.
    skip_empty_lines: false,
    // Bounds the memory a quote that is never closed can take.
    max_record_size: MAX_LINE_BYTES,
    info: true,
    raw: true,
  });
  const feeding = pipeline(Readable.from(text()), parser);
  // A failure of the source reaches the loop below through the parser, which pipeline destroys with it.
  feeding.catch(() => undefined);
  const reportUnread = (upTo: number): InputError | undefined => {
    let spanned: InputError | undefined;
    while (unread.length > 0 && (unread[0]?.line ?? Infinity) <= upTo) {
      const bad = unread.shift() as InputError;
      reject(bad);
      spanned ??= bad;
    }
    return spanned;
  };
  try {
    for await (const { record, info, raw } of parser as AsyncIterable<{
      record: string[];
      info: { lines: number };
      raw: string;
    }>) {
      const end = info.lines;
      const start = startLine(end, raw);
      const spanned = reportUnread(end);
      if (record.every((field) => field.trim() === '')) continue;
      if (spanned) {
        reject(
          new InputError(
            `the CSV record on lines ${start}-${end} includes line ${spanned.line}, which could not be read`,
            start,
          ),
        );
        continue;
      }
      yield { line: start, fields: record };
    }
  } catch (err) {
    if (!isCsvError(err)) throw err;
    const error = csvInputError(err);
    reportUnread(error.line - 1);
    throw error;
  }
  await feeding;
  reportUnread(Infinity);
}

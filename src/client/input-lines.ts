/**
 * The lines of a batch input stream, read a chunk at a time: each line decoded as strict UTF-8 and held
 * to `MAX_LINE_BYTES`, or, when it cannot be read, the error naming it. A bad line does not stop the
 * reading: the caller decides whether it rejects the input or skips the line, and the next line is read
 * as usual (an over-long line's bytes are dropped up to its newline, never held).
 */
import { InputError } from '../errors.js';

/** Longest accepted line, in bytes: a file without newlines must not fill memory. */
export const MAX_LINE_BYTES = 64 * 1024;

/** One line of an input: its text (without the line end), or why it cannot be read. */
export type InputLine = { line: number; text: string } | { line: number; error: InputError };

/** Splits a byte stream into decoded lines with their 1-based numbers. */
export async function* inputLines(source: AsyncIterable<Uint8Array | string>): AsyncIterable<InputLine> {
  // Strict decoding; a BOM at the start of the text is dropped.
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  /** Number of the line being read. */
  let line = 1;
  /** The line being read went past MAX_LINE_BYTES and was reported: drop its bytes until its newline. */
  let overlong = false;
  const decoded = (bytes: Buffer): InputLine => {
    let text: string;
    try {
      text = decoder.decode(bytes);
    } catch {
      return { line, error: new InputError('is not valid UTF-8 (save the file as UTF-8)', line) };
    }
    return { line, text: text.endsWith('\r') ? text.slice(0, -1) : text };
  };
  for await (const chunk of source) {
    let buf =
      typeof chunk === 'string'
        ? Buffer.from(chunk, 'utf8')
        : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    while (buf.length > 0) {
      const nl = buf.indexOf(0x0a);
      const head = nl === -1 ? buf : buf.subarray(0, nl);
      if (!overlong) {
        if (pendingBytes + head.length > MAX_LINE_BYTES) {
          overlong = true;
          pending = [];
          pendingBytes = 0;
          yield {
            line,
            error: new InputError(`is longer than ${MAX_LINE_BYTES} bytes (one URL per line?)`, line),
          };
        } else if (nl === -1) {
          pending.push(head);
          pendingBytes += head.length;
        } else {
          yield decoded(pending.length > 0 ? Buffer.concat([...pending, head]) : head);
          pending = [];
          pendingBytes = 0;
        }
      }
      if (nl === -1) break;
      overlong = false;
      line += 1;
      buf = buf.subarray(nl + 1);
    }
  }
  if (!overlong && pendingBytes > 0) yield decoded(Buffer.concat(pending));
}

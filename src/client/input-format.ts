/**
 * The input formats and how a file name implies one; apart from the parser (./input.ts) so that the CLI
 * offers `--format` without loading it.
 */
import { extname } from 'node:path';

export const INPUT_FORMATS = ['text', 'csv', 'jsonl'] as const;
export type InputFormat = (typeof INPUT_FORMATS)[number];

/** The format a file name implies: `.csv`, `.jsonl` / `.ndjson`, anything else `text`. */
export function formatOfPath(path: string): InputFormat {
  const ext = extname(path).toLowerCase();
  if (ext === '.csv') return 'csv';
  if (ext === '.jsonl' || ext === '.ndjson') return 'jsonl';
  return 'text';
}

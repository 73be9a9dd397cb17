/**
 * `monitor changes --diff`: a unified diff of a changed page's text content (outputFormat html), from
 * the two stored bodies, read line by line as a person reads the page (whitespace runs collapsed, empty
 * lines dropped: the text the content hash is taken of, with its line breaks). `diff` does the diffing.
 */
import { load } from 'cheerio';
import { createTwoFilesPatch } from 'diff';
import type { ResultStore } from '../store/types.js';
import type { Observation } from './types.js';

/** Why a changed row has no text diff: a body is no longer stored (pruned), or was never recorded. */
export type TextDiffUnavailable = 'previous body pruned' | 'current body pruned' | 'previous body unknown';

export interface TextDiff {
  /** Unified diff (previous → current) of the page's text lines. */
  textDiff?: string;
  textDiffUnavailable?: TextDiffUnavailable;
}

/** Elements that start a line as a browser lays them out (their text runs into the next one's otherwise). */
const BLOCKS =
  'address, article, aside, blockquote, br, dd, div, dl, dt, figcaption, figure, footer, form, h1, h2, ' +
  'h3, h4, h5, h6, header, hr, li, main, nav, ol, p, pre, section, table, td, th, tr, ul';

/**
 * A page's text as lines: scripts and styles dropped (as for the content hash), a line break after each
 * block element, whitespace runs collapsed, empty lines dropped.
 */
export function textLines(html: string): string {
  const $ = load(html);
  $('script, style, noscript').remove();
  $(BLOCKS).after('\n');
  const lines = $.root()
    .text()
    .split('\n')
    .map((line) => line.replace(/\s+/g, ' ').trim())
    .filter((line) => line.length > 0);
  return lines.length > 0 ? `${lines.join('\n')}\n` : '';
}

/** The text diff of an observation whose text content changed; nothing for any other row. */
export async function textDiffOf(store: ResultStore, o: Observation): Promise<TextDiff> {
  if (o.status !== 'changed' || !o.diff?.content) return {};
  // Observations tracked before the previous body's ref was kept have none to read.
  if (!o.previousContentRef) return { textDiffUnavailable: 'previous body unknown' };
  const previous = await store.getContent(o.previousContentRef);
  if (previous === undefined) return { textDiffUnavailable: 'previous body pruned' };
  const current = o.baseline?.contentRef ? await store.getContent(o.baseline.contentRef) : undefined;
  if (current === undefined) return { textDiffUnavailable: 'current body pruned' };
  const textDiff = createTwoFilesPatch(
    o.url,
    o.url,
    textLines(previous),
    textLines(current),
    o.previousObservedAt ?? '',
    o.observedAt,
  );
  return { textDiff };
}

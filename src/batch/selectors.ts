/**
 * The selectors of `css_extractor` (`cssSelectors`) and of the `extract` browser step. Each is a CSS
 * selector, read as:
 * - the text of the FIRST element it matches, with whitespace runs collapsed to one space and the ends
 *   trimmed (an element with no text gives `''`), or `null` when nothing matches. Further matches are
 *   ignored: write a more specific selector (`li:nth-child(2)`) to reach them;
 * - with `selector@attr` (e.g. `a.next@href`, `img@src`), the value of attribute `attr` of the first
 *   match instead, `null` when nothing matches or the first match lacks the attribute. The `@attr`
 *   suffix is recognised only at the very end of the selector, so attribute selectors such as
 *   `a[href$="@x.com"]` keep working.
 */
import { load } from 'cheerio';

const ATTR_SUFFIX = /@([A-Za-z_:][-\w:.]*)$/;

export interface ParsedSelector {
  css: string;
  attr?: string;
}

/** `css@attr` into its parts; `attr` unset for a plain CSS selector. */
export function parseSelector(selector: string): ParsedSelector {
  const m = ATTR_SUFFIX.exec(selector);
  if (!m || m.index === 0) return { css: selector };
  return { css: selector.slice(0, m.index).trim(), attr: m[1] };
}

const empty = load('');

/**
 * Why a selector cannot be used, or undefined when it compiles. Checked with cheerio (css-select), the
 * engine OmniScrape's extraction uses, so a selector that passes here is one the API accepts.
 */
export function selectorError(selector: string): string | undefined {
  const { css } = parseSelector(selector);
  if (css.trim() === '') return 'is empty';
  try {
    empty.root().find(css);
    return undefined;
  } catch (err) {
    return `is not a valid CSS selector (${err instanceof Error ? err.message : String(err)})`;
  }
}

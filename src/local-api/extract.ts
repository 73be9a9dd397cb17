/**
 * `css_extractor`: the selectors of a request applied to a page with cheerio (parse5 + css-select).
 *
 * Each selector name maps to:
 * - the text of the FIRST element the selector matches, with whitespace runs collapsed to one space and
 *   the ends trimmed (an element with no text gives `''`), or `null` when nothing matches. Further
 *   matches are ignored: write a more specific selector (`li:nth-child(2)`) to reach them;
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

export function parseSelector(selector: string): ParsedSelector {
  const m = ATTR_SUFFIX.exec(selector);
  if (!m || m.index === 0) return { css: selector };
  return { css: selector.slice(0, m.index).trim(), attr: m[1] };
}

const empty = load('');

/** Why a selector cannot be used, or undefined when it compiles. */
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

/** Applies every selector to `html`. Selectors are assumed to be valid (see `selectorError`). */
export function extract(
  html: string,
  selectors: Readonly<Record<string, string>>,
): Record<string, string | null> {
  const $ = load(html);
  // fromEntries, not assignment: a selector named `__proto__` must stay an ordinary key.
  return Object.fromEntries(
    Object.entries(selectors).map(([name, selector]): [string, string | null] => {
      const { css, attr } = parseSelector(selector);
      const first = $(css).first();
      if (first.length === 0) return [name, null];
      if (attr !== undefined) return [name, first.attr(attr) ?? null];
      return [name, first.text().replace(/\s+/g, ' ').trim()];
    }),
  );
}

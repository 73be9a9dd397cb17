/**
 * `css_extractor`: the selectors of a request applied to a page with cheerio (parse5 + css-select), as
 * src/batch/selectors.ts describes them.
 */
import { load } from 'cheerio';
import { parseSelector } from '../../src/batch/selectors.js';

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

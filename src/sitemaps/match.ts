/**
 * `--include` / `--exclude` globs over page URLs (picomatch): a pattern matches the whole URL, `*` within
 * a path segment, `**` across them: `https://shop.example/products/**`, `**\/p/*`.
 */
import picomatch from 'picomatch';

/** Whether a page URL is kept: it matches an include pattern (when any is given) and no exclude pattern. */
export function urlFilter(
  include: readonly string[] = [],
  exclude: readonly string[] = [],
): (url: string) => boolean {
  const options = { dot: true, nobrace: false };
  const included = include.length ? picomatch([...include], options) : () => true;
  const excluded = exclude.length ? picomatch([...exclude], options) : () => false;
  return (url) => included(url) && !excluded(url);
}

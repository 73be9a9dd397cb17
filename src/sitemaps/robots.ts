/**
 * The `Sitemap:` lines of a robots.txt (the field is case-insensitive and may sit anywhere in the file,
 * outside any group; a relative value resolves against the robots.txt URL). robots.txt is a line format,
 * not XML: read line by line.
 */

/** The robots.txt URL of a site: its root given as any URL of it (`https://shop.example/` → `…/robots.txt`). */
export function robotsUrlOf(siteUrl: string): string {
  const url = new URL(siteUrl);
  return url.pathname.endsWith('/robots.txt') ? url.href : new URL('/robots.txt', url.origin).href;
}

/** The sitemap URLs a robots.txt names, in order, each once. */
export function sitemapsInRobots(text: string, robotsUrl: string): string[] {
  const found = new Set<string>();
  for (const raw of text.split(/\r\n|\r|\n/)) {
    const line = raw.replace(/#.*$/, '').trim();
    const colon = line.indexOf(':');
    if (colon <= 0 || line.slice(0, colon).trim().toLowerCase() !== 'sitemap') continue;
    const value = line.slice(colon + 1).trim();
    if (!value) continue;
    try {
      found.add(new URL(value, robotsUrl).href);
    } catch {
      // Not a URL: skipped, as crawlers do.
    }
  }
  return [...found];
}

/**
 * How the local API recognises pages it cannot serve from a plain fetch. Both checks are pure and cheap
 * (a few regular expressions over the HTML): they look for markers, they do not extract anything.
 */

/**
 * The demo site's challenge marker: an element carrying `data-challenge-nonce`, as in
 * `<div id="challenge" data-challenge-nonce="…">` (see devkit/demo-site/challenge.ts). The attribute must
 * sit inside a tag, so a page merely mentioning it in its text does not match.
 */
const CHALLENGE_MARKER = /<[a-z][^>]*\sdata-challenge-nonce\s*=/i;

/**
 * The page is an anti-bot challenge as the demo site serves it: some element has a
 * `data-challenge-nonce` attribute. Challenges of real anti-bot vendors are not recognised.
 */
export function isChallengePage(html: string): boolean {
  return CHALLENGE_MARKER.test(html);
}

/** An empty client-side app root: `<div id="app"></div>` (also `root`, `__next`, `__nuxt`, `app-root`). */
const EMPTY_APP_ROOT =
  /<(div|main|section)\b[^>]*\sid\s*=\s*["']?(?:app|root|__next|__nuxt|app-root)(?=["'\s>])[^>]*>\s*<\/\1\s*>/i;
const SCRIPT_TAG = /<script\b/i;
/** Below this many characters of visible text a page counts as having "little text". */
export const LITTLE_TEXT_CHARS = 200;

/** The text a reader would see: body without scripts, styles, templates and noscript, tags stripped. */
function visibleText(html: string): string {
  const bodyStart = html.search(/<body\b/i);
  return (bodyStart >= 0 ? html.slice(bodyStart) : html)
    .replace(/<(script|style|noscript|template)\b[\s\S]*?<\/\1\s*>/gi, ' ')
    .replace(/<!--[\s\S]*?-->/g, ' ')
    .replace(/<[^>]*>/g, ' ')
    .replace(/&[a-z#0-9]+;/gi, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

/**
 * The page's content needs JavaScript to appear (auto mode escalates to rendering). The rule, all three
 * must hold:
 * 1. an empty app root element: `<div|main|section id="app|root|__next|__nuxt|app-root"></…>` with
 *    only whitespace inside;
 * 2. at least one `<script>` tag (inline or external);
 * 3. little visible text: fewer than {@link LITTLE_TEXT_CHARS} characters once scripts, styles,
 *    noscript, templates, comments and tags are removed and whitespace collapsed.
 * A server-rendered page that also mounts an app (a filled root, or plenty of text) does not match, nor
 * does a challenge page (check {@link isChallengePage} first).
 */
export function needsRendering(html: string): boolean {
  return EMPTY_APP_ROOT.test(html) && SCRIPT_TAG.test(html) && visibleText(html).length < LITTLE_TEXT_CHARS;
}

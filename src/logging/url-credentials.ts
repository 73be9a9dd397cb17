/**
 * Credentials inside URLs (`https://user:pass@host/`, `postgres://user:pass@host/db`): what logs, error
 * messages and activity summaries show instead. String work only, no `URL` parsing and no Node imports,
 * so the workflow sandbox can use it and a string that is not a valid URL is still masked.
 */
import { registerSecret } from './secrets.js';

/**
 * Scheme, then the authority's userinfo: everything up to the authority's last `@` (WHATWG takes the
 * last one too), the authority ending at `/`, `\`, `?` or `#`.
 */
const USERINFO = /^([a-z][a-z0-9+.-]*:[/\\]*)([^/\\?#]*)@/i;

/** `https://user:pass@host/p` → `https://***@host/p`: a scraped URL as logs and summaries show it. */
export function withoutCredentials(url: string): string {
  return url.replace(USERINFO, '$1***@');
}

/** `postgres://user:pass@host/db` → `postgres://user:***@host/db`: a database URL as messages show it. */
export function maskUrlPassword(url: string): string {
  return url.replace(USERINFO, (_, scheme: string, userinfo: string) => {
    const colon = userinfo.indexOf(':');
    return colon === -1 ? `${scheme}${userinfo}@` : `${scheme}${userinfo.slice(0, colon)}:***@`;
  });
}

/** The password of a URL as written and decoded (empty when it has none). */
function passwordsOf(url: string): string[] {
  const userinfo = USERINFO.exec(url)?.[2] ?? '';
  const colon = userinfo.indexOf(':');
  if (colon === -1) return [];
  const raw = userinfo.slice(colon + 1);
  let decoded = raw;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    // not percent-encoded text: the raw form is the one that can appear
  }
  return [raw, decoded];
}

/** Registers a URL's password (both forms) as a secret, so no log line or message carries it. */
export function registerUrlPassword(url: string | undefined): void {
  for (const password of url ? passwordsOf(url) : []) registerSecret(password);
}

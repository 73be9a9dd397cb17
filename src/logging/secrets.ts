/**
 * The secret registry: every secret the process holds (the OmniScrape API key, the Temporal API key, the
 * service's bearer token, webhook URLs) is registered once, and `redactSecrets` removes them from log
 * lines (logger.ts), error messages and body excerpts (omniscrape/errors.ts), and what the CLI and the
 * service show of failures. Pure (no Node imports), so error classes shared with workflow code can use it.
 */

/** Strings that must never leave the process in an error, a log line or a history. */
const secrets = new Set<string>();

/** Registers a secret (the API key, an admin token) so that `redactSecrets` removes it everywhere. */
export function registerSecret(secret: string | undefined): void {
  if (secret && secret.length >= 4) secrets.add(secret);
}

/** What a scrapeflow API token looks like (src/auth/tokens.ts): removed wherever one shows up. */
const API_TOKEN_SHAPE = /sft_[A-Za-z0-9_-]{43}/g;
/** What a webhook signing secret looks like (src/webhooks/manage.ts): removed wherever one shows up. */
const WEBHOOK_SECRET_SHAPE = /whsec_[A-Za-z0-9+/]{20,}={0,2}/g;

/**
 * Replaces every registered secret, every API token and webhook secret, and anything shaped like `apikey=...` with
 * `[REDACTED]`.
 */
export function redactSecrets(text: string): string {
  let out = text;
  for (const s of secrets) out = out.split(s).join('[REDACTED]');
  return out
    .replace(/(apikey=)[^&\s"']+/gi, '$1[REDACTED]')
    .replace(API_TOKEN_SHAPE, '[REDACTED]')
    .replace(WEBHOOK_SECRET_SHAPE, '[REDACTED]');
}

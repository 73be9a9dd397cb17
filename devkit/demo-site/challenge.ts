/**
 * The demo site's JavaScript challenge, a small stand-in for an anti-bot interstitial.
 *
 * Protocol (everything deterministic):
 * 1. `GET /challenge/<n>` without a valid clearance cookie answers 403 with a challenge document holding
 *    `<div id="challenge" data-challenge-nonce="NONCE">` and a form `#challenge-form` (fields `nonce`,
 *    `proof`, `return`) that posts to `/challenge/verify`. The page's own script never fills `proof`:
 *    rendering the page, however long, does not pass the challenge.
 * 2. A solver computes `proof = first 16 hex digits of sha256(NONCE)` (in page context,
 *    `crypto.subtle.digest`), sets the field and submits the form.
 * 3. `POST /challenge/verify` checks nonce and proof against the `return` path; on success it sets the
 *    clearance cookie and answers 303 back to `return`, on failure 403 with a fresh challenge.
 * 4. With the cookie, `GET /challenge/<n>` serves the product page (200).
 */
import { createHash } from 'node:crypto';

export const CLEARANCE_COOKIE = 'sf_clearance';
export const VERIFY_PATH = '/challenge/verify';

function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** The nonce the challenge for product `n` carries (32 hex digits). */
export function challengeNonce(n: number): string {
  return sha256Hex(`scrapeflow-demo-challenge:${n}`).slice(0, 32);
}

/** The proof a solver must submit for `nonce`: the first 16 hex digits of sha256(nonce). */
export function challengeProof(nonce: string): string {
  return sha256Hex(nonce).slice(0, 16);
}

/** The clearance cookie's value; the same for every page of the site. */
export const CLEARANCE_TOKEN = sha256Hex('scrapeflow-demo-clearance:v1').slice(0, 32);

/** Reads one cookie from a `Cookie` header. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

export function hasClearance(cookieHeader: string | undefined): boolean {
  return readCookie(cookieHeader, CLEARANCE_COOKIE) === CLEARANCE_TOKEN;
}

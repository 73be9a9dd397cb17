/** Bearer-token check, constant-time: both sides are hashed to equal length before `timingSafeEqual`. */
import { createHash, timingSafeEqual } from 'node:crypto';

const digest = (value: string): Buffer => createHash('sha256').update(value).digest();

/** A checker for `Authorization: Bearer <token>` headers against the configured token. */
export function bearerChecker(token: string): (header: string | undefined) => boolean {
  const expected = digest(token);
  return (header) => {
    const given = /^Bearer ([^\s]+)\s*$/i.exec(header ?? '')?.[1];
    // Compare even when absent, so a missing header costs the same as a wrong one.
    const ok = timingSafeEqual(digest(given ?? ''), expected);
    return given !== undefined && ok;
  };
}

/**
 * `<lastmod>` values: W3C datetimes (https://www.w3.org/TR/NOTE-datetime), the format the sitemap
 * protocol names. Accepted: `YYYY`, `YYYY-MM`, `YYYY-MM-DD`, and a date with `Thh:mm`, optional
 * `:ss` and fraction, and a zone (`Z` or `±hh:mm`; a time without a zone is taken as UTC, the common
 * sloppiness). Anything else, or a date that does not exist (2025-02-30), is no lastmod at all.
 */

const W3C_DATETIME =
  /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/;

/** The ISO time (`toISOString`) of a W3C datetime, or undefined when it is not one. */
export function parseLastmod(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  const m = W3C_DATETIME.exec(text.trim());
  if (!m) return undefined;
  const [, y, mo = '01', d = '01', h = '00', mi = '00', s = '00', frac = '', zone = 'Z'] = m;
  const month = Number(mo);
  const day = Number(d);
  if (month < 1 || month > 12 || day < 1 || day > 31 || Number(h) > 23 || Number(mi) > 59 || Number(s) > 59)
    return undefined;
  const ms = Date.parse(`${y}-${mo}-${d}T${h}:${mi}:${s}${frac.slice(0, 4)}${zone}`);
  if (Number.isNaN(ms)) return undefined;
  // Date.parse rolls 2025-02-30 over into March: a day the month does not have is no date.
  if (new Date(Date.UTC(Number(y), month - 1, day)).getUTCDate() !== day) return undefined;
  return new Date(ms).toISOString();
}

/**
 * Which events an endpoint receives: `--events` is a comma list of event types or patterns whose last
 * part is `*` (`batch.*` matches `batch.started` and `batch.page.completed`); none means every event.
 */
import { EVENT_TYPES } from '../events/types.js';
import { ValidationError } from '../errors.js';

/** Whether an endpoint subscribed to `patterns` receives an event of `type`. */
export function matchesPatterns(patterns: readonly string[], type: string): boolean {
  if (patterns.length === 0) return true;
  return patterns.some((p) =>
    p === '*' ? true : p.endsWith('.*') ? type.startsWith(p.slice(0, -1)) : p === type,
  );
}

/** Parses `--events` (or the body's `events`): each entry must be a type or match one. */
export function parsePatterns(value: string | readonly string[] | undefined, field = 'events'): string[] {
  if (value === undefined) return [];
  const list = (typeof value === 'string' ? value.split(',') : [...value])
    .map((s) => s.trim())
    .filter(Boolean);
  for (const p of list)
    if (!EVENT_TYPES.some((t) => matchesPatterns([p], t)))
      throw new ValidationError(
        `${field}: ${JSON.stringify(p)} is no event type and matches none (types: ${EVENT_TYPES.join(', ')}; or a pattern such as batch.*)`,
        field,
      );
  return [...new Set(list)];
}

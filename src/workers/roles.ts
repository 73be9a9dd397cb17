/**
 * The worker roles a process can run, and the `--queue` value that names them; apart from the process
 * (./process.ts) so that the CLI parses the flag without loading any role.
 */
/** The roles, in the order a process starts them. */
export const WORKER_ROLES = ['workflows', 'scrape', 'browser'] as const;
export type WorkerRole = (typeof WORKER_ROLES)[number];

/**
 * `workflows`, `scrape`, `browser`, a comma list of them (`workflows,scrape`), or `all`. Returns the
 * roles in start order, each once; throws naming the flag and the word it does not know.
 */
export function parseRoles(value: string, flag = '--queue'): WorkerRole[] {
  const words = value
    .split(',')
    .map((w) => w.trim())
    .filter(Boolean);
  if (words.length === 1 && words[0] === 'all') return [...WORKER_ROLES];
  const unknown = words.filter((w) => !(WORKER_ROLES as readonly string[]).includes(w));
  if (words.length === 0 || unknown.length)
    throw new Error(
      `${flag} must be ${WORKER_ROLES.join(', ')}, a comma list of them, or all (got ${JSON.stringify(value)})`,
    );
  return WORKER_ROLES.filter((r) => words.includes(r));
}

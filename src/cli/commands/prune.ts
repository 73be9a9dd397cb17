import type { Command } from 'commander';
import { loadConfig } from '../../config/env.js';
import { say } from '../context.js';
import { CliError, ExitCode } from '../exit.js';

const UNITS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses `30m`, `12h`, `7d` into milliseconds, or fails naming the flag. */
export function parseAge(value: string): number {
  const match = /^(\d+)([mhd])$/.exec(value.trim());
  if (!match)
    throw new CliError(
      `--older-than must look like 30m, 12h or 7d (got ${JSON.stringify(value)})`,
      ExitCode.usage,
    );
  return Number(match[1]) * UNITS[match[2]!]!;
}

/** `scrapeflow prune --older-than 7d`: retention for page bodies (result rows stay) and monitors' observations. */
export function registerPrune(program: Command): void {
  program
    .command('prune')
    .description('delete stored page bodies older than a given age (result records and dead letters stay)')
    .requiredOption('--older-than <age>', 'age such as 30m, 12h or 7d', parseAge)
    .action(async ({ olderThan }: { olderThan: number }) => {
      const { openStore } = await import('../../store/index.js');
      const store = await openStore(loadConfig());
      try {
        const cutoff = new Date(Date.now() - olderThan);
        const removed = await store.pruneContent(cutoff);
        say(`pruned ${removed} page bodies stored before ${cutoff.toISOString()}`);
        // Monitors keep their observations for their own --retain-days, whatever --older-than says.
        const { monitorStoreOf, pruneMonitors } = await import('../../monitors/store.js');
        const monitors = monitorStoreOf(store);
        const pruned = monitors && (await pruneMonitors(monitors));
        if (pruned?.monitors)
          say(
            `pruned ${pruned.removed} observations of ${pruned.monitors} monitors past their --retain-days`,
          );
      } finally {
        await store.close();
      }
    });
}

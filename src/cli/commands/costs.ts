import type { Command } from 'commander';
import type { BatchCosts } from '../../client/costs.js';
import { say, withContext } from '../context.js';

function costLines(costs: BatchCosts): string[] {
  const rows = (title: string, map: Record<string, number>) => {
    const entries = Object.entries(map).sort(([, a], [, b]) => b - a);
    if (!entries.length) return [`${title}: none`];
    const width = Math.max(...entries.map(([k]) => k.length));
    return [`${title}:`, ...entries.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`)];
  };
  return [
    `${costs.batchId} (${costs.state}): ${costs.total} credits for ${costs.urlsDone} URLs` +
      (costs.lastBalance !== undefined ? ` | balance ${costs.lastBalance}` : ''),
    ...rows('by method', costs.byMethod),
    ...rows('by tag', costs.byTag),
  ];
}

/** `scrapeflow costs <id>`: credits charged by the batch, by method and by tag. */
export function registerCosts(program: Command): void {
  program
    .command('costs')
    .description('show the credits a batch has been charged, in total, by method and by tag')
    .argument('<batchId>', 'the batch id that `start` printed')
    .option('--json', 'print one JSON object: batchId, state, total, byMethod, byTag, lastBalance, urlsDone')
    .action(async (batchId: string, flags: { json?: boolean }) => {
      await withContext(async ({ client, store }) => {
        const { getCosts } = await import('../../client/costs.js');
        const costs = await getCosts(client, store, batchId);
        if (flags.json) say(JSON.stringify(costs));
        else for (const line of costLines(costs)) say(line);
      });
    });
}

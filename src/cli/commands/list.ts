import { Option, type Command } from 'commander';
import { BATCH_STATES } from '../../batch/progress.js';
import type { BatchState } from '../../workflows/types.js';
import { intOption, say, withContext } from '../context.js';

/** `scrapeflow list`: batches from Temporal visibility, newest first. */
export function registerList(program: Command): void {
  program
    .command('list')
    .description('list batches, newest first (from Temporal visibility)')
    .addOption(new Option('--status <state>', 'only batches in this state').choices(BATCH_STATES))
    .option('--limit <n>', 'at most this many', intOption('--limit', 1, 100_000), 100)
    .option('--json', 'one JSON object per line')
    .action(async (flags: { status?: BatchState; limit: number; json?: boolean }) => {
      await withContext(async ({ client }) => {
        const { listBatches } = await import('../../client/list.js');
        let count = 0;
        for await (const batch of listBatches(client, {
          ...(flags.status ? { status: flags.status } : {}),
          limit: flags.limit,
        })) {
          count += 1;
          if (flags.json) say(JSON.stringify(batch));
          else {
            const state = batch.pauseReason ? `${batch.state} (${batch.pauseReason})` : batch.state;
            say(`${batch.batchId.padEnd(40)} ${state.padEnd(20)} started ${batch.startedAt}`);
          }
        }
        if (!flags.json && count === 0) say(flags.status ? `no ${flags.status} batches` : 'no batches yet');
      });
    });
}

import type { Command } from 'commander';
import { addBatchFlags, batchOptionsFromFlags, type BatchFlags } from '../batch-flags.js';
import { say, withContext } from '../context.js';

/** `scrapeflow redrive <id>`: the batch's dead letters run again as a new batch. */
export function registerRedrive(program: Command): void {
  const command = program
    .command('redrive')
    .description("re-run a batch's dead letters (after a fix) as a new batch, recording the lineage")
    .argument('<batchId>', 'the batch whose dead letters run again')
    .option('--batch-id <id>', 'id of the new batch (default <batchId>-redrive-<random>)')
    .option('--wait', 'follow the new batch to its end; exit 5 unless every URL succeeded')
    .option('--json', 'print {"batchId", "redrivenFrom", "total"} as JSON');
  addBatchFlags(command)
    .addHelpText(
      'after',
      `
The new batch takes the original batch's options; the flags above override them (e.g. fixed selectors).
Each re-driven dead letter gets redrivenTo {batchId, index}; a second redrive skips it.`,
    )
    .action(
      async (batchId: string, flags: BatchFlags & { batchId?: string; wait?: boolean; json?: boolean }) => {
        const options = await batchOptionsFromFlags(flags);
        await withContext(async ({ config, client, store }) => {
          const [{ redriveBatch }, { accountsFileOf }, { summaryLines }, { exitCodeOf, watchBatch }] =
            await Promise.all([
              import('../../client/redrive.js'),
              import('../../config/accounts.js'),
              import('../progress.js'),
              import('../watch.js'),
            ]);
          const started = await redriveBatch(
            client,
            store,
            { batchId, options, ...(flags.batchId ? { newBatchId: flags.batchId } : {}) },
            { accounts: accountsFileOf(config) },
          );
          const summary = { batchId: started.batchId, redrivenFrom: batchId, total: started.total };
          if (flags.json && !flags.wait) say(JSON.stringify(summary));
          else if (!flags.json)
            say(`re-driving ${started.total} dead letters of ${batchId} as batch ${started.batchId}`);
          if (!flags.wait) return;
          const final = await watchBatch(client, store, started.batchId);
          if (flags.json) say(JSON.stringify({ ...summary, progress: final }));
          else for (const line of summaryLines(final)) say(line);
          process.exitCode = exitCodeOf(final);
        });
      },
    );
}

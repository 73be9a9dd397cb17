import type { Command } from 'commander';
import { intOption, say, withContext } from '../context.js';
import { CliError, ExitCode } from '../exit.js';

/** `pause`, `resume [--all]` and `cancel`: signals to the batch workflow. */
export function registerControl(program: Command): void {
  program
    .command('pause')
    .description('pause a batch: URLs in flight finish, no new ones start')
    .argument('<batchId>')
    .action(async (batchId: string) => {
      await withContext(async ({ client }) => {
        const { pauseBatch, requireRunning } = await import('../../client/batches.js');
        await requireRunning(client, batchId, 'pause');
        await pauseBatch(client, batchId, 'manual');
        say(`paused ${batchId}; continue with \`scrapeflow resume ${batchId}\``);
      });
    });

  program
    .command('resume')
    .description('resume a paused batch, or --all batches paused for OmniScrape balance or auth')
    .argument('[batchId]')
    .option('--all', 'resume every batch paused for balance (402) or auth (401), e.g. after a top-up')
    .option(
      '--max-credits <n>',
      'the batch may now spend n credits in all (after a `budget` pause)',
      intOption('--max-credits', 0, Number.MAX_SAFE_INTEGER),
    )
    .action(async (batchId: string | undefined, flags: { all?: boolean; maxCredits?: number }) => {
      if (!batchId && !flags.all)
        throw new CliError('name a batch (scrapeflow resume <batchId>) or pass --all', ExitCode.usage);
      if (batchId && flags.all)
        throw new CliError('give either a batch id or --all, not both', ExitCode.usage);
      await withContext(async ({ client }) => {
        const [{ requireRunning, resumeBatch }, { listBatches }] = await Promise.all([
          import('../../client/batches.js'),
          import('../../client/list.js'),
        ]);
        if (batchId) {
          await requireRunning(client, batchId, 'resume');
          await resumeBatch(
            client,
            batchId,
            flags.maxCredits !== undefined ? { maxCredits: flags.maxCredits } : {},
          );
          say(
            `resumed ${batchId}${flags.maxCredits !== undefined ? ` (max credits ${flags.maxCredits})` : ''}`,
          );
          return;
        }
        let count = 0;
        for await (const batch of listBatches(client, { pauseReasons: ['balance', 'auth'] })) {
          await resumeBatch(client, batch.batchId);
          say(`resumed ${batch.batchId} (was paused for ${batch.pauseReason ?? '?'})`);
          count += 1;
        }
        say(count ? `resumed ${count} batches` : 'no batch is paused for balance or auth');
      });
    });

  program
    .command('cancel')
    .description('cancel a batch: URLs in flight are cancelled, nothing new starts')
    .argument('<batchId>')
    .action(async (batchId: string) => {
      await withContext(async ({ client }) => {
        const { cancelBatch, requireRunning } = await import('../../client/batches.js');
        await requireRunning(client, batchId, 'cancel');
        await cancelBatch(client, batchId);
        say(`cancelling ${batchId}; \`scrapeflow status ${batchId}\` shows when it has stopped`);
      });
    });
}

import type { Command } from 'commander';
import { intOption, say, withContext } from '../context.js';

/** `scrapeflow status <id>`: one snapshot, or `--watch` until the batch ends. */
export function registerStatus(program: Command): void {
  program
    .command('status')
    .description("show a batch's progress: counts by outcome, credits, state")
    .argument('<batchId>', 'the batch id that `start` printed')
    .option(
      '--watch',
      'show a live progress bar until the batch ends or pauses (an outage pause resumes by itself and is waited through); exit 5 unless every URL succeeded, 8 when its workflow failed, was terminated or timed out',
    )
    .option('--json', 'print one JSON object: state, pauseReason, counts, credits, ...')
    .option(
      '--interval <ms>',
      'time between two updates with --watch',
      intOption('--interval', 100, 60_000),
      500,
    )
    .addHelpText(
      'after',
      `
JSON fields: batchId, state (running|paused|completed|cancelled|failed|terminated|timed_out),
pauseReason (auth|balance|outage|budget|manual), failure (why the workflow failed, was terminated or
timed out), total, counts {succeeded, failed, dead_lettered, in_flight, pending}, credits,
creditsByMethod, creditsByTag, lastBalance, maxCredits, window, concurrency, rateLimited, waiting,
pages {total, done, running}, duplicates {lines, waiting}, priority (1 most urgent … 5), startedAt,
endedAt, waitingFor [{role, taskQueue, message}] (worker roles no live worker serves: the batch waits).
Exit 0 whenever the batch exists, also while it waits for a worker.`,
    )
    .action(async (batchId: string, flags: { watch?: boolean; json?: boolean; interval: number }) => {
      await withContext(async ({ client, store }) => {
        const [{ getProgress }, { summaryLines }, { exitCodeOf, watchBatch }] = await Promise.all([
          import('../../client/progress.js'),
          import('../progress.js'),
          import('../watch.js'),
        ]);
        const progress = flags.watch
          ? await watchBatch(client, store, batchId, flags.interval)
          : await getProgress(client, store, batchId);
        if (flags.json) say(JSON.stringify(progress));
        else for (const line of summaryLines(progress)) say(line);
        if (flags.watch) process.exitCode = exitCodeOf(progress);
      });
    });
}

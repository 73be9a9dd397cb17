/**
 * `scrapeflow monitor …`: recurring batches on a Temporal Schedule that say what changed
 * (src/client/monitors.ts, src/client/monitor-runs.ts). `create` and `update` take every batch flag of
 * `start` (src/cli/batch-flags.ts) and the monitor's own.
 */
import { createReadStream } from 'node:fs';
import { Option, type Command } from 'commander';
import type { MonitorRequest } from '../../client/monitors.js';
import type { MonitorDescription } from '../../client/monitor-runs.js';
import { formatOfPath } from '../../client/input-format.js';
import { addBatchFlags, batchOptionsFromFlags, type BatchFlags } from '../batch-flags.js';
import { addSitemapFlags, sitemapSourceFromFlags, type SitemapFlags } from '../sitemap-flags.js';
import { intOption, say, withContext } from '../context.js';
import { CliError, ExitCode } from '../exit.js';

interface MonitorFlags extends BatchFlags, SitemapFlags {
  input?: string;
  every?: string;
  cron?: string;
  timezone?: string;
  jitter?: string;
  catchupWindow?: string;
  maxCreditsPerRun?: number;
  maxCreditsPerMonth?: number;
  retainDays?: number;
  changeThreshold?: string[];
  skipUnchanged?: boolean;
  paused?: boolean;
  json?: boolean;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];
const CREDITS = Number.MAX_SAFE_INTEGER;

function addMonitorFlags(command: Command): Command {
  command
    .option('--input <file>', 'the URLs each run scrapes: text, CSV or JSONL, as `start` reads them')
    .option('--every <duration>', 'run every duration (e.g. 30m, 6h, 1d; at least 1m)')
    .option('--cron <expr>', 'run on a cron expression instead of --every')
    .option('--timezone <tz>', 'IANA time zone of --cron (default UTC)')
    .option('--jitter <duration>', 'start each run up to this much later, at random')
    .option(
      '--catchup-window <duration>',
      'after downtime, run a missed time only within this window (default 1h)',
    )
    .option(
      '--max-credits-per-run <n>',
      "each run's credit cap (the batch pauses, reason budget)",
      intOption('--max-credits-per-run', 0, CREDITS),
    )
    .option(
      '--max-credits-per-month <n>',
      'pause the schedule (reason budget) once the month’s runs spent n credits',
      intOption('--max-credits-per-month', 0, CREDITS),
    )
    .option(
      '--retain-days <n>',
      'days observations are kept (default 90)',
      intOption('--retain-days', 1, 36500),
    )
    .option(
      '--change-threshold <rule>',
      'ignore smaller moves of a number field: price=1%, price=0.5, or 1% for every number field; repeatable',
      collect,
    )
    .option(
      '--skip-unchanged',
      'sitemap URLs whose lastmod is not newer than their last observation are not scraped',
    )
    .option('--paused', 'create the schedule paused (runs only by `monitor trigger`)')
    .option('--json', 'print the monitor as one JSON object');
  return addSitemapFlags(addBatchFlags(command));
}

async function requestOf(flags: MonitorFlags): Promise<MonitorRequest> {
  if (flags.maxCredits !== undefined)
    throw new CliError('--max-credits: a monitor caps each run with --max-credits-per-run', ExitCode.usage);
  if (flags.input && flags.sitemap?.length)
    throw new CliError('--input and --sitemap: give one of them', ExitCode.usage);
  const options = await batchOptionsFromFlags(flags);
  const request: MonitorRequest = {
    ...(Object.keys(options).length > 0 ? { options } : {}),
    ...(flags.every !== undefined ? { every: flags.every } : {}),
    ...(flags.cron !== undefined ? { cron: flags.cron } : {}),
    ...(flags.timezone !== undefined ? { timezone: flags.timezone } : {}),
    ...(flags.jitter !== undefined ? { jitter: flags.jitter } : {}),
    ...(flags.catchupWindow !== undefined ? { catchupWindow: flags.catchupWindow } : {}),
    ...(flags.maxCreditsPerRun !== undefined ? { maxCreditsPerRun: flags.maxCreditsPerRun } : {}),
    ...(flags.maxCreditsPerMonth !== undefined ? { maxCreditsPerMonth: flags.maxCreditsPerMonth } : {}),
    ...(flags.retainDays !== undefined ? { retainDays: flags.retainDays } : {}),
    ...(flags.changeThreshold ? { thresholds: flags.changeThreshold } : {}),
    ...(flags.skipUnchanged ? { skipUnchanged: true } : {}),
    ...(flags.paused ? { paused: true } : {}),
  };
  const sitemap = sitemapSourceFromFlags(flags);
  if (sitemap) request.sitemap = sitemap;
  if (flags.input) {
    const file = flags.input;
    const source = createReadStream(file);
    await new Promise<void>((resolve, reject) => {
      source.once('open', () => resolve());
      source.once('error', (err: Error) =>
        reject(new CliError(`--input ${file}: ${err.message} (check the path)`, ExitCode.usage)),
      );
    });
    const { parseInput } = await import('../../client/input.js');
    request.urls = parseInput(source, { format: formatOfPath(file), skipInvalid: false });
  }
  return request;
}

function printDescription(d: MonitorDescription): void {
  const { spec, schedule } = d;
  const when = spec.schedule.every
    ? `every ${spec.schedule.every}`
    : `cron ${JSON.stringify(spec.schedule.cron)}${spec.schedule.timezone ? ` (${spec.schedule.timezone})` : ''}`;
  const input =
    spec.input.kind === 'urls' ? `${spec.input.count} URLs` : `sitemap ${spec.input.source.urls.join(', ')}`;
  say(`monitor ${spec.name} (account ${spec.account}): ${input}, ${when}, schedule ${schedule.id}`);
  say(
    `state: ${schedule.paused ? `paused${spec.state.pauseReason ? ` (${spec.state.pauseReason})` : ''}${schedule.note ? `: ${schedule.note}` : ''}` : 'active'}`,
  );
  say(`next runs: ${schedule.nextRuns.join(', ') || 'none'}`);
  say(
    `runs taken ${schedule.runsTaken}, skipped (overlap) ${schedule.skippedOverlap}, missed (catch-up window) ${schedule.missedCatchupWindow}`,
  );
  const cap = spec.maxCreditsPerMonth !== undefined ? ` of ${spec.maxCreditsPerMonth}` : '';
  say(
    `credits this month: ${d.creditsThisMonth}${cap}; estimatedCreditsPerMonth: ${d.estimatedCreditsPerMonth ?? 'unknown until the first run'}`,
  );
  for (const run of d.lastRuns)
    say(
      `  ${run.batchId}  ${run.state}  ${run.counts ? JSON.stringify(run.counts) : ''}  ${run.credits ?? ''}`,
    );
}

export function registerMonitor(program: Command): void {
  const monitor = program
    .command('monitor')
    .description('recurring batches on a Temporal Schedule that report what changed per URL');
  addMonitorFlags(
    monitor
      .command('create <name>')
      .description('create a monitor: a schedule whose runs are batches <name>@<time>, with change tracking'),
  ).action(async (name: string, flags: MonitorFlags) => {
    const request = await requestOf(flags);
    await withContext(async ({ client, store, config }) => {
      const [{ createMonitor }, { describeMonitor }, { accountsFileOf }] = await Promise.all([
        import('../../client/monitors.js'),
        import('../../client/monitor-runs.js'),
        import('../../config/accounts.js'),
      ]);
      await createMonitor(
        client,
        store,
        name,
        { ...request, plan: config.OMNISCRAPE_PLAN_CONCURRENCY },
        { accounts: accountsFileOf(config) },
      );
      const described = await describeMonitor(client, store, name);
      if (flags.json) say(JSON.stringify(described));
      else printDescription(described);
    });
  });
  addMonitorFlags(
    monitor.command('update <name>').description('change a monitor; a new input applies from the next run'),
  ).action(async (name: string, flags: MonitorFlags) => {
    const request = await requestOf(flags);
    await withContext(async ({ client, store, config }) => {
      const [{ updateMonitor }, { describeMonitor }, { accountsFileOf }] = await Promise.all([
        import('../../client/monitors.js'),
        import('../../client/monitor-runs.js'),
        import('../../config/accounts.js'),
      ]);
      await updateMonitor(client, store, name, request, { accounts: accountsFileOf(config) });
      const described = await describeMonitor(client, store, name);
      if (flags.json) say(JSON.stringify(described));
      else printDescription(described);
    });
  });
  monitor
    .command('list')
    .description('list monitors')
    .option('--json', 'one JSON object per line')
    .action(async (flags: { json?: boolean }) => {
      await withContext(async ({ store }) => {
        const { listMonitors } = await import('../../client/monitor-runs.js');
        for (const m of await listMonitors(store)) {
          if (flags.json) say(JSON.stringify(m));
          else
            say(
              `${m.name.padEnd(24)} ${m.account.padEnd(12)} ${(m.schedule.every ? `every ${m.schedule.every}` : (m.schedule.cron ?? '')).padEnd(20)} ${m.state.paused ? `paused (${m.state.pauseReason ?? 'manual'})` : 'active'}`,
            );
        }
      });
    });
  monitor
    .command('describe <name>')
    .description('spec, state, next runs, last runs, skipped runs, credits this month and the estimate')
    .option('--json', 'one JSON object')
    .action(async (name: string, flags: { json?: boolean }) => {
      await withContext(async ({ client, store }) => {
        const { describeMonitor } = await import('../../client/monitor-runs.js');
        const described = await describeMonitor(client, store, name);
        if (flags.json) say(JSON.stringify(described));
        else printDescription(described);
      });
    });
  for (const [verb, what] of [
    ['pause', 'pause the schedule (a run going on goes on)'],
    ['unpause', 'unpause the schedule, also after a budget pause'],
  ] as const)
    monitor
      .command(`${verb} <name>`)
      .description(what)
      .option('--json', 'print {"name", "paused"}')
      .action(async (name: string, flags: { json?: boolean }) => {
        await withContext(async ({ client, store }) => {
          const { pauseMonitor, unpauseMonitor } = await import('../../client/monitors.js');
          await (verb === 'pause' ? pauseMonitor : unpauseMonitor)(client, store, name);
          say(flags.json ? JSON.stringify({ name, paused: verb === 'pause' }) : `monitor ${name} ${verb}d`);
        });
      });
  monitor
    .command('trigger <name>')
    .description('run now (skipped, as a scheduled run would be, while a run is going)')
    .option('--wait', 'return once the run and its change report are done (exit code as start --wait)')
    .option('--json', 'print {"batchId", "skipped"} (and the run with --wait)')
    .action(async (name: string, flags: { wait?: boolean; json?: boolean }) => {
      await withContext(async ({ client, store }) => {
        const [{ triggerMonitor, waitForRun }, { getProgress }, { exitCodeOf }] = await Promise.all([
          import('../../client/monitor-runs.js'),
          import('../../client/progress.js'),
          import('../watch.js'),
        ]);
        const triggered = await triggerMonitor(client, store, name);
        if (triggered.skipped || !triggered.workflowId) {
          say(flags.json ? JSON.stringify(triggered) : `skipped: a run of ${name} is still going`);
          process.exitCode = ExitCode.batchNotCompleted;
          return;
        }
        if (!flags.wait) return say(flags.json ? JSON.stringify(triggered) : (triggered.batchId ?? ''));
        const run = await waitForRun(client, triggered.workflowId);
        if (flags.json) say(JSON.stringify({ ...triggered, run }));
        else
          say(
            `${run.batchId}: ${run.batchState}, ${JSON.stringify(run.counts ?? {})}, ${run.credits ?? 0} credits`,
          );
        if (run.batchState !== 'empty' && run.batchState !== 'deleted')
          process.exitCode = exitCodeOf(await getProgress(client, store, run.batchId));
      });
    });
  monitor
    .command('backfill <name>')
    .description('run the times the schedule would have fired between --from and --to, one after another')
    .requiredOption('--from <time>', 'ISO time')
    .requiredOption('--to <time>', 'ISO time')
    .option('--json', 'print {"name", "from", "to"}')
    .action(async (name: string, flags: { from: string; to: string; json?: boolean }) => {
      const from = new Date(flags.from);
      const to = new Date(flags.to);
      for (const [flag, date] of [
        ['--from', from],
        ['--to', to],
      ] as const)
        if (Number.isNaN(date.getTime()))
          throw new CliError(`${flag}: not a time (give an ISO time)`, ExitCode.usage);
      await withContext(async ({ client, store }) => {
        const { backfillMonitor } = await import('../../client/monitors.js');
        await backfillMonitor(client, store, name, { from, to });
        say(flags.json ? JSON.stringify({ name, from, to }) : `backfill of ${name} requested`);
      });
    });
  monitor
    .command('delete <name>')
    .description('delete the monitor and its schedule; its history stays unless --purge')
    .option('--purge', 'delete its runs and observations too')
    .option('--json', 'print {"name", "purged"}')
    .action(async (name: string, flags: { purge?: boolean; json?: boolean }) => {
      await withContext(async ({ client, store }) => {
        const { deleteMonitor } = await import('../../client/monitors.js');
        await deleteMonitor(client, store, name, { purge: flags.purge ?? false });
        say(flags.json ? JSON.stringify({ name, purged: flags.purge ?? false }) : `monitor ${name} deleted`);
      });
    });
  monitor
    .command('runs <name>')
    .description('runs: batch id, scheduled time, state, counts by change status, credits')
    .option('--json', 'one JSON object per line')
    .action(async (name: string, flags: { json?: boolean }) => {
      await withContext(async ({ store }) => {
        const { monitorRuns } = await import('../../client/monitor-runs.js');
        for (const run of await monitorRuns(store, name))
          say(
            flags.json
              ? JSON.stringify(run)
              : `${run.batchId}  ${run.scheduledAt}  ${run.state}  ${run.counts ? JSON.stringify(run.counts) : ''}  ${run.credits ?? ''}`,
          );
      });
    });
  monitor
    .command('changes <name>')
    .description('one row per URL and run: url, status, diff {field: {previous, current}}, times, charged')
    .option('--run <batchId>', 'this run (default: the latest)')
    .option('--since <time>', 'every run scheduled since this ISO time')
    .option('--status <list>', 'only these statuses: new,same,changed,removed,not_observed,baseline')
    .addOption(new Option('--format <format>', 'output format').choices(['jsonl', 'csv']).default('jsonl'))
    .option('--json', 'same as --format jsonl')
    .option(
      '--diff',
      'add textDiff: a unified diff of each changed text content (outputFormat html), or why there is none',
    )
    .action(
      async (
        name: string,
        flags: { run?: string; since?: string; status?: string; format: 'jsonl' | 'csv'; diff?: boolean },
      ) => {
        const since = flags.since ? new Date(flags.since) : undefined;
        if (since && Number.isNaN(since.getTime()))
          throw new CliError('--since: not a time (give an ISO time)', ExitCode.usage);
        await withContext(async ({ store }) => {
          const { monitorChanges, formatChanges, parseStatuses } =
            await import('../../client/monitor-runs.js');
          const statuses = parseStatuses(flags.status);
          const rows = monitorChanges(store, name, {
            ...(flags.run ? { run: flags.run } : {}),
            ...(since ? { since } : {}),
            ...(statuses ? { statuses } : {}),
            ...(flags.diff ? { textDiff: true } : {}),
          });
          for await (const text of formatChanges(rows, flags.format, flags.diff ?? false))
            process.stdout.write(text);
        });
      },
    );
  monitor
    .command('history <name> <url>')
    .description("the URL's observations over time")
    .option('--field <field>', 'only this field')
    .addOption(new Option('--format <format>', 'output format').choices(['jsonl', 'csv']).default('jsonl'))
    .option('--json', 'same as --format jsonl')
    .action(async (name: string, url: string, flags: { field?: string; format: 'jsonl' | 'csv' }) => {
      await withContext(async ({ store }) => {
        const { monitorHistory, formatChanges } = await import('../../client/monitor-runs.js');
        const rows = monitorHistory(store, name, url, flags.field ? { field: flags.field } : {});
        for await (const text of formatChanges(rows, flags.format)) process.stdout.write(text);
      });
    });
  monitor
    .command('costs <name>')
    .description('credits per URL (SKU) across the kept runs, or per run')
    .addOption(new Option('--by <what>', 'group by').choices(['url', 'run']).default('url'))
    .option('--json', 'one JSON object per line')
    .action(async (name: string, flags: { by: 'url' | 'run'; json?: boolean }) => {
      await withContext(async ({ store }) => {
        const { monitorCosts } = await import('../../client/monitor-runs.js');
        for (const row of await monitorCosts(store, name, flags.by))
          say(
            flags.json
              ? JSON.stringify({ [flags.by]: row.key, credits: row.credits })
              : `${row.key}  ${row.credits}`,
          );
      });
    });
}

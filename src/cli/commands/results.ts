import { createWriteStream } from 'node:fs';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Option, type Command } from 'commander';
import { exportResults, formatResults, RESULT_FORMATS, type ResultFormat } from '../../client/results.js';
import { loadConfig } from '../../config/env.js';
import { TERMINAL_STATUSES, type TerminalStatus } from '../../store/types.js';
import { CliError, ExitCode } from '../exit.js';

interface ResultsFlags {
  format: ResultFormat;
  status?: TerminalStatus[];
  tag?: string;
  output?: string;
}

/** Streams a batch's records from the store (no Temporal needed) to stdout or a file. */
async function exportTo(batchId: string, flags: ResultsFlags): Promise<void> {
  const { openStore } = await import('../../store/index.js');
  const store = await openStore(loadConfig());
  try {
    const records = await exportResults(store, batchId, {
      ...(flags.status?.length ? { status: flags.status } : {}),
      ...(flags.tag ? { tag: flags.tag } : {}),
    });
    const out: Writable = flags.output ? createWriteStream(flags.output) : process.stdout;
    try {
      await pipeline(Readable.from(formatResults(records, flags.format)), out, {
        end: Boolean(flags.output),
      });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EPIPE') return; // e.g. `| head`
      if (flags.output && (err as NodeJS.ErrnoException).syscall)
        throw new CliError(`cannot write ${flags.output}: ${(err as Error).message}`, ExitCode.usage);
      throw err;
    }
  } finally {
    await store.close();
  }
}

const collectStatus = (value: string, previous: TerminalStatus[] = []): TerminalStatus[] => {
  if (!(TERMINAL_STATUSES as readonly string[]).includes(value))
    throw new CliError(
      `--status must be one of ${TERMINAL_STATUSES.join(', ')} (got ${JSON.stringify(value)})`,
      ExitCode.usage,
    );
  return [...previous, value as TerminalStatus];
};

function exportOptions(command: Command, defaultFormat: ResultFormat): Command {
  return command
    .addOption(
      new Option('--format <format>', 'jsonl (one JSON record per line) or csv')
        .choices(RESULT_FORMATS)
        .default(defaultFormat),
    )
    .option('--tag <tag>', 'only URLs with this tag')
    .option('-o, --output <file>', 'write to this file instead of stdout');
}

/** `results <id>` and `dead-letters <id>`: one record per URL, streamed. */
export function registerResults(program: Command): void {
  exportOptions(
    program
      .command('results')
      .description("export a batch's results, one record per URL (streamed; works while it runs)")
      .argument('<batchId>')
      .option(
        '--status <status>',
        `only records with this status (${TERMINAL_STATUSES.join('|')}), repeatable`,
        collectStatus,
      ),
    'jsonl',
  )
    .addHelpText(
      'after',
      `
Record fields: batchId, index, url, status (succeeded|dead_lettered|failed), reason, detail, methodUsed,
solverUsed, challengeSolved, charged, balanceAfter, attempts, tags, fields (extracted), contentRef, jobId,
response (dead letters, JSONL only), redrivenFrom, redrivenTo, finishedAt.`,
    )
    .action((batchId: string, flags: ResultsFlags) => exportTo(batchId, flags));

  exportOptions(
    program
      .command('dead-letters')
      .description("export a batch's dead letters (success:false answers kept for inspection and re-drive)")
      .argument('<batchId>'),
    'jsonl',
  ).action((batchId: string, flags: ResultsFlags) =>
    exportTo(batchId, { ...flags, status: ['dead_lettered'] }),
  );
}

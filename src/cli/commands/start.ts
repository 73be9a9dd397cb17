import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Option, type Command } from 'commander';
import { MAX_BATCH_ID_LENGTH } from '../../store/types.js';
import { formatOfPath, INPUT_FORMATS, type InputFormat } from '../../client/input-format.js';
import { addBatchFlags, batchOptionsFromFlags, type BatchFlags } from '../batch-flags.js';
import { addSitemapFlags, sitemapSourceFromFlags, type SitemapFlags } from '../sitemap-flags.js';
import { say, withContext, type CliContext } from '../context.js';
import type { SitemapSource } from '../../sitemaps/index.js';
import { CliError, ExitCode } from '../exit.js';
import { type InputError } from '../../errors.js';

interface StartFlags extends BatchFlags, SitemapFlags {
  format?: InputFormat;
  skipInvalid?: boolean;
  batchId?: string;
  wait?: boolean;
  json?: boolean;
}

/** `scrapeflow start <file|->`: streams the input into the store and starts the batch workflow. */
export function registerStart(program: Command): void {
  const command = program
    .command('start')
    .description('start a batch from a file of URLs (or - for stdin): text, CSV or JSONL; or from sitemaps')
    .argument('[file]', 'input file, or - to read standard input (none with --sitemap)')
    .addOption(
      new Option(
        '--format <format>',
        'input format (default: by extension: .csv, .jsonl/.ndjson, else text)',
      ).choices(INPUT_FORMATS),
    )
    .option(
      '--skip-invalid',
      'skip invalid lines (each reported on stderr) instead of rejecting the whole file',
    )
    .option(
      '--batch-id <id>',
      `batch id: 1 to ${MAX_BATCH_ID_LENGTH} letters, digits, . _ -; refused when taken (exit 7); default generated`,
    )
    .option('--wait', 'follow the batch to its end with a progress bar; exit 5 unless every URL succeeded')
    .option('--json', 'print {"batchId", "total"} (and the final progress with --wait) as JSON');
  addSitemapFlags(addBatchFlags(command)).addHelpText(
    'after',
    `
Input formats:
  text   one URL per line; blank lines and lines starting with # are skipped
  csv    a header row with a "url" column and optionally "tags" (separated by ; or |)
  jsonl  one object per line: {"url": "https://...", "tags": ["a"], "steps": [...]}
         ("steps": browser steps for that URL alone; text and CSV lines carry none)
The first invalid line rejects the whole file (exit 2, naming the line) unless --skip-invalid.

Sitemaps (--sitemap, instead of a file): sitemaps and sitemap indexes (also gzip), at most 50,000 URLs and
50 MB a file, indexes nested at most 5 deep; each URL once; a sitemap that cannot be read stores nothing
(exit 2, naming it).

Examples:
  scrapeflow start urls.txt --wait
  scrapeflow start products.csv --selector title=h1 --selector price=.price --tag shop
  cat urls.txt | scrapeflow start - --mode fast
  scrapeflow start --sitemap https://shop.example/sitemap.xml --include '**/products/**' --wait
  scrapeflow start --sitemap https://shop.example/ --sitemap-from-robots --sitemap-fetch direct`,
  );
  command.action(async (file: string | undefined, flags: StartFlags) => {
    const sitemap = sitemapSourceFromFlags(flags);
    if (sitemap && file !== undefined)
      throw new CliError(
        `give a file or --sitemap, not both (got ${JSON.stringify(file)} too)`,
        ExitCode.usage,
      );
    if (sitemap) return startFromSitemap(sitemap, flags);
    if (file === undefined)
      throw new CliError('give a file of URLs (or - for stdin), or --sitemap <url>', ExitCode.usage);
    if (flags.sitemapFetch !== 'omniscrape' && flags.sitemapFetch !== undefined)
      throw new CliError('--sitemap-fetch applies to --sitemap input: give --sitemap <url>', ExitCode.usage);
    const format = flags.format ?? (file === '-' ? 'text' : formatOfPath(file));
    const options = await batchOptionsFromFlags(flags);
    // A directory opens like a file and fails only at the first read, deep in the start.
    if (file !== '-' && (await stat(file).catch(() => undefined))?.isDirectory())
      throw new CliError(
        `cannot read ${file}: it is a directory (give a file of URLs, or - for stdin)`,
        ExitCode.usage,
      );
    const source = file === '-' ? process.stdin : createReadStream(file);
    const opened = new Promise<void>((resolve, reject) => {
      if (file === '-') return resolve();
      source.once('open', () => resolve());
      source.once('error', (err: Error) =>
        reject(new CliError(`cannot read ${file}: ${err.message} (check the path)`, ExitCode.usage)),
      );
    });
    await opened;
    let skipped = 0;
    const { parseInput } = await import('../../client/input.js');
    const urls = parseInput(source, {
      format,
      skipInvalid: flags.skipInvalid ?? false,
      onSkip: (err: InputError) => {
        skipped += 1;
        process.stderr.write(`skipped ${err.message}\n`);
      },
    });
    await withContext(async ({ config, client, store }) => {
      const [{ startBatch }, { accountsFileOf }] = await Promise.all([
        import('../../client/batches.js'),
        import('../../config/accounts.js'),
      ]);
      const { batchId, total } = await startBatch(
        client,
        store,
        {
          ...(flags.batchId ? { batchId: flags.batchId } : {}),
          urls,
          options,
          plan: config.OMNISCRAPE_PLAN_CONCURRENCY,
        },
        { accounts: accountsFileOf(config) },
      );
      await reportStarted({ client, store }, flags, {
        batchId,
        total,
        json: { skipped },
        ...(skipped ? { note: `${skipped} invalid lines skipped` } : {}),
      });
    });
  });
}

/** `start --sitemap`: the sitemaps stream into the batch's input as it starts (`storeSitemapInput`). */
async function startFromSitemap(source: SitemapSource, flags: StartFlags): Promise<void> {
  const options = await batchOptionsFromFlags(flags);
  await withContext(async ({ config, client, store }) => {
    const [{ startBatch, newBatchId }, { accountsFileOf }, { createLogger }, { sitemapReaderFor }] =
      await Promise.all([
        import('../../client/batches.js'),
        import('../../config/accounts.js'),
        import('../../logging/logger.js'),
        import('../sitemap-flags.js'),
      ]);
    const batchId = flags.batchId ?? newBatchId();
    // The cost lines of the sitemap fetches go to stderr: stdout is the command's answer.
    const logger = createLogger({ name: 'start', destination: process.stderr });
    const opened = await sitemapReaderFor(source, {
      config,
      logger,
      batchId,
      ...(options.account !== undefined ? { account: options.account } : {}),
    });
    let total: number;
    try {
      ({ total } = await startBatch(
        client,
        store,
        {
          batchId,
          sitemap: { reader: opened.reader, source },
          options,
          plan: config.OMNISCRAPE_PLAN_CONCURRENCY,
        },
        { accounts: accountsFileOf(config) },
      ));
    } finally {
      await opened.close();
    }
    const stats = opened.reader.stats();
    await reportStarted({ client, store }, flags, {
      batchId,
      total,
      json: { sitemap: stats },
      note:
        `from ${stats.files} sitemap files` +
        (stats.charged ? `, ${stats.charged} credits` : '') +
        (stats.filtered ? `, ${stats.filtered} URLs left out by --include/--exclude` : '') +
        (stats.capped ? `, stopped at --max-urls` : ''),
    });
  });
}

/** Prints the started batch (and with `--wait` follows it to its end, setting the exit code). */
async function reportStarted(
  { client, store }: Pick<CliContext, 'client' | 'store'>,
  flags: StartFlags,
  started: { batchId: string; total: number; json: Record<string, unknown>; note?: string },
): Promise<void> {
  const [{ summaryLines }, { exitCodeOf, watchBatch }] = await Promise.all([
    import('../progress.js'),
    import('../watch.js'),
  ]);
  const { batchId, total } = started;
  if (flags.json && !flags.wait) say(JSON.stringify({ batchId, total, ...started.json }));
  else if (!flags.json) {
    say(`started batch ${batchId} with ${total} URLs${started.note ? ` (${started.note})` : ''}`);
    if (!flags.wait) say(`follow it: scrapeflow status ${batchId} --watch`);
  }
  if (!flags.wait) return;
  const final = await watchBatch(client, store, batchId);
  if (flags.json) say(JSON.stringify({ batchId, total, ...started.json, progress: final }));
  else for (const line of summaryLines(final)) say(line);
  process.exitCode = exitCodeOf(final);
}

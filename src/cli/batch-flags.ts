/**
 * Batch-option flags shared by `start` and `redrive`: mode, output format, selectors, concurrency,
 * tags, async flow, account, priority. Parsed into the input of `batchOptionsSchema` (which validates them).
 */
import { readFile } from 'node:fs/promises';
import { Option, type Command } from 'commander';
import type { BatchOptionsInput } from '../batch/options.js';
import { OUTPUT_FORMATS, SCRAPE_MODES } from '../omniscrape/types.js';
import { HIGHEST_PRIORITY, LOWEST_PRIORITY } from '../batch/defaults.js';
import { intOption } from './context.js';
import { CliError, ExitCode } from './exit.js';

export interface BatchFlags {
  mode?: (typeof SCRAPE_MODES)[number];
  outputFormat?: (typeof OUTPUT_FORMATS)[number];
  selectors?: string;
  selector?: string[];
  concurrency?: number;
  tag?: string[];
  asyncFlow?: 'on_timeout' | 'js_rendering' | 'always';
  account?: string;
  solver?: boolean;
  /** False with `--no-dedupe`. */
  dedupe?: boolean;
  maxCredits?: number;
  pageSize?: number;
  pagesInFlight?: number;
  priority?: number;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function addBatchFlags(command: Command): Command {
  return command
    .addOption(new Option('--mode <mode>', 'OmniScrape mode for every URL').choices(SCRAPE_MODES))
    .addOption(
      new Option(
        '--output-format <format>',
        'what OmniScrape returns (default: css_extractor with selectors, else html)',
      ).choices(OUTPUT_FORMATS),
    )
    .option('--selectors <file.json>', 'JSON file of CSS selectors: {"title": "h1", "price": ".price"}')
    .option('--selector <name=css>', 'one CSS selector, repeatable (--selector title=h1)', collect)
    .option(
      '--concurrency <n>',
      "URLs in flight at once for this batch (default twice the plan of the batch's account)",
      intOption('--concurrency', 1, 1000),
    )
    .option('--tag <tag>', 'cost-attribution tag for every URL, repeatable', collect)
    .addOption(
      new Option('--async-flow <when>', 'when URLs use the async job flow (default js_rendering)').choices([
        'on_timeout',
        'js_rendering',
        'always',
      ]),
    )
    .option('--account <label>', 'OmniScrape account label the batch spends from (default "default")')
    .option(
      '--priority <n>',
      "Temporal task priority: 1 most urgent … 5 least (default 3); an urgent batch's URLs go ahead of " +
        "queued ones of less urgent batches (needs the server's new matcher: the dev server and `cluster up` have it)",
      intOption('--priority', HIGHEST_PRIORITY, LOWEST_PRIORITY),
    )
    .option('--solver', 'enable the anti-bot challenge solver')
    .option('--no-dedupe', 'scrape (and pay for) every line, also a URL that appears on several lines')
    .option(
      '--max-credits <n>',
      'pause the batch (reason budget) before a call could take its spending over n credits',
      intOption('--max-credits', 0, Number.MAX_SAFE_INTEGER),
    )
    .option(
      '--page-size <n>',
      'input lines per page workflow (default 500)',
      intOption('--page-size', 1, 5000),
    )
    .option(
      '--pages-in-flight <n>',
      'page workflows at once, sharing the concurrency (default 4; 1 with --max-credits)',
      intOption('--pages-in-flight', 1, 100),
    );
}

/** Flags → batch options input; only the flags given appear, so they can override other options. */
export async function batchOptionsFromFlags(flags: BatchFlags): Promise<Partial<BatchOptionsInput>> {
  const selectors: Record<string, string> = {};
  if (flags.selectors) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(await readFile(flags.selectors, 'utf8'));
    } catch (err) {
      throw new CliError(
        `--selectors ${flags.selectors}: ${(err as Error).message} (give a JSON object of name → CSS selector)`,
        ExitCode.usage,
      );
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
      throw new CliError(
        `--selectors ${flags.selectors}: must hold a JSON object of name → CSS selector`,
        ExitCode.usage,
      );
    for (const [name, css] of Object.entries(parsed)) {
      if (typeof css !== 'string')
        throw new CliError(
          `--selectors ${flags.selectors}: selector ${JSON.stringify(name)} must be a string`,
          ExitCode.usage,
        );
      selectors[name] = css;
    }
  }
  for (const pair of flags.selector ?? []) {
    const eq = pair.indexOf('=');
    if (eq <= 0 || eq === pair.length - 1)
      throw new CliError(
        `--selector ${JSON.stringify(pair)}: write it as name=css, e.g. --selector title=h1`,
        ExitCode.usage,
      );
    selectors[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  const hasSelectors = Object.keys(selectors).length > 0;
  const outputFormat = flags.outputFormat ?? (hasSelectors ? 'css_extractor' : undefined);
  return {
    ...(flags.mode ? { mode: flags.mode } : {}),
    ...(outputFormat ? { outputFormat } : {}),
    ...(hasSelectors ? { cssSelectors: selectors } : {}),
    ...(flags.concurrency ? { concurrency: flags.concurrency } : {}),
    ...(flags.tag?.length ? { tags: flags.tag } : {}),
    ...(flags.asyncFlow ? { asyncFlow: flags.asyncFlow } : {}),
    ...(flags.account ? { account: flags.account } : {}),
    ...(flags.priority !== undefined ? { priority: flags.priority } : {}),
    ...(flags.solver ? { enableSolver: true } : {}),
    ...(flags.dedupe === false ? { dedupe: false } : {}),
    ...(flags.maxCredits !== undefined ? { maxCredits: flags.maxCredits } : {}),
    ...(flags.pageSize !== undefined ? { pageSize: flags.pageSize } : {}),
    ...(flags.pagesInFlight !== undefined ? { pagesInFlight: flags.pagesInFlight } : {}),
  };
}

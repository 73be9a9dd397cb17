/**
 * Sitemap-input flags shared by `start` and `monitor create`/`update`: `--sitemap`, `--sitemap-from-robots`,
 * `--sitemap-fetch`, `--include`, `--exclude`, `--max-urls`. Parsed into a `SitemapSource`; the reader
 * (src/sitemaps) is built by `sitemapReaderFor`.
 */
import { Option, type Command } from 'commander';
import type { Config } from '../config/env.js';
import type { Logger } from '../logging/logger.js';
import type { SitemapReader, SitemapSource } from '../sitemaps/index.js';
import { intOption } from './context.js';
import { CliError, ExitCode } from './exit.js';

export interface SitemapFlags {
  sitemap?: string[];
  sitemapFromRobots?: boolean;
  sitemapFetch?: 'omniscrape' | 'direct';
  include?: string[];
  exclude?: string[];
  maxUrls?: number;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** Most page URLs `--max-urls` allows. */
export const MAX_URLS_FLAG = 10_000_000;

export function addSitemapFlags(command: Command): Command {
  return command
    .option(
      '--sitemap <url>',
      'read the URLs from a sitemap or sitemap index (also .xml.gz), repeatable; instead of a file',
      collect,
    )
    .option(
      '--sitemap-from-robots',
      "take the sitemaps named on the Sitemap: lines of each --sitemap site's robots.txt",
    )
    .addOption(
      new Option(
        '--sitemap-fetch <how>',
        'read the sitemaps through OmniScrape (fast mode, 1 credit a file; needs OMNISCRAPE_KEY here) or directly',
      )
        .choices(['omniscrape', 'direct'])
        .default('omniscrape'),
    )
    .option(
      '--include <glob>',
      'keep only sitemap URLs matching a glob (repeatable), e.g. "**/products/**"',
      collect,
    )
    .option('--exclude <glob>', 'drop sitemap URLs matching a glob (repeatable)', collect)
    .option(
      '--max-urls <n>',
      'stop reading the sitemaps after n URLs (default 1000000)',
      intOption('--max-urls', 1, MAX_URLS_FLAG),
    );
}

/** The sitemap source the flags describe, or undefined without `--sitemap`; sitemap-only flags alone are refused. */
export function sitemapSourceFromFlags(flags: SitemapFlags): SitemapSource | undefined {
  if (!flags.sitemap?.length) {
    const stray = (
      [
        ['--sitemap-from-robots', flags.sitemapFromRobots],
        ['--include', flags.include?.length],
        ['--exclude', flags.exclude?.length],
        ['--max-urls', flags.maxUrls],
      ] as const
    ).find(([, given]) => given);
    if (stray)
      throw new CliError(`${stray[0]} applies to --sitemap input: give --sitemap <url>`, ExitCode.usage);
    return undefined;
  }
  for (const url of flags.sitemap) {
    let ok = false;
    try {
      ok = ['http:', 'https:'].includes(new URL(url).protocol);
    } catch {
      ok = false;
    }
    if (!ok)
      throw new CliError(
        `--sitemap ${JSON.stringify(url)}: must be an absolute http(s) URL, e.g. https://shop.example/sitemap.xml`,
        ExitCode.usage,
      );
  }
  return {
    urls: flags.sitemap,
    ...(flags.sitemapFromRobots ? { fromRobots: true } : {}),
    fetch: flags.sitemapFetch ?? 'omniscrape',
    ...(flags.include?.length ? { include: flags.include } : {}),
    ...(flags.exclude?.length ? { exclude: flags.exclude } : {}),
    ...(flags.maxUrls !== undefined ? { maxUrls: flags.maxUrls } : {}),
  };
}

/**
 * A reader for `source` in this process: through OmniScrape it spends `account`'s credits with this
 * process's keys (OMNISCRAPE_KEY, the accounts file); `close()` it after use.
 */
export async function sitemapReaderFor(
  source: SitemapSource,
  options: { config: Config; logger: Logger; account?: string; batchId?: string },
): Promise<{ reader: SitemapReader; close(): Promise<void> }> {
  const { createSitemapReader } = await import('../sitemaps/index.js');
  if (source.fetch === 'direct') {
    const reader = createSitemapReader({
      logger: options.logger,
      ...(options.batchId !== undefined ? { batchId: options.batchId } : {}),
    });
    return { reader, close: () => reader.close() };
  }
  const [{ loadAccounts }, { AccountClients }] = await Promise.all([
    import('../config/accounts.js'),
    import('../omniscrape/accounts.js'),
  ]);
  const accounts = loadAccounts(options.config);
  if (accounts.list().length === 0)
    throw new CliError(
      '--sitemap-fetch omniscrape reads the sitemaps through OmniScrape from this process, which has no key: ' +
        'set OMNISCRAPE_KEY (or the accounts file), or give --sitemap-fetch direct',
      ExitCode.usage,
    );
  const api = new AccountClients(accounts, { baseUrl: options.config.OMNISCRAPE_API_URL });
  const reader = createSitemapReader({
    logger: options.logger,
    api,
    ...(options.account !== undefined ? { account: options.account } : {}),
    ...(options.batchId !== undefined ? { batchId: options.batchId } : {}),
  });
  return {
    reader,
    close: async () => {
      await reader.close();
      await api.close();
    },
  };
}

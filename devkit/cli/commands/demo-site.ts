import type { Command } from 'commander';
import { z } from 'zod';
import { CliError, ExitCode } from '../../../src/cli/exit.js';
import { untilSignal } from '../../../src/cli/signals.js';
import { DEFAULT_SITEMAP_PRODUCTS, MAX_SITEMAP_PRODUCTS } from '../../demo-site/changes.js';

const flagsSchema = z.object({
  port: z
    .string()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .refine((port) => port <= 65_535, 'must be 0..65535'),
  host: z.string().min(1, 'must not be empty'),
  sitemapProducts: z
    .string()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .refine((n) => n <= MAX_SITEMAP_PRODUCTS, `must be 0..${MAX_SITEMAP_PRODUCTS}`),
});

/** `sitemapProducts` → `sitemap-products`, the flag's spelling. */
const flagName = (field: string): string => field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/** `scrapeflow demo-site`: the deterministic demo site (tests, benchmarks, the demo), until SIGINT or SIGTERM. */
export function registerDemoSite(program: Command): void {
  program
    .command('demo-site')
    .description(
      'run the demo site: product, JavaScript, slow, challenge, interactive and media pages, sitemaps',
    )
    .option('--port <port>', 'TCP port (0 picks a free one)', '0')
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .option(
      '--sitemap-products <n>',
      'the sitemap lists products 1..n (the catalogue changes under /__catalog)',
      String(DEFAULT_SITEMAP_PRODUCTS),
    )
    .action(async (flags: { port: string; host: string; sitemapProducts: string }) => {
      const parsed = flagsSchema.safeParse(flags);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        throw new CliError(
          `--${flagName(issue?.path.join('.') ?? 'flags')}: ${issue?.message ?? 'invalid'}`,
          ExitCode.usage,
        );
      }
      const [{ startDemoSite }, { createLogger }] = await Promise.all([
        import('../../demo-site/index.js'),
        import('../../../src/logging/logger.js'),
      ]);
      const logger = createLogger({ name: 'demo-site' });
      let site;
      try {
        site = await startDemoSite({ ...parsed.data, logger });
      } catch (err) {
        const code = (err as { code?: unknown }).code;
        if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') {
          throw new CliError(
            `cannot listen on ${parsed.data.host}:${parsed.data.port} (${code})`,
            ExitCode.usage,
          );
        }
        throw err;
      }
      try {
        process.stdout.write(`demo-site listening on ${site.origin}\n`);
        const signal = await untilSignal();
        logger.info({ signal }, 'demo site shutting down');
      } finally {
        await site.close();
      }
    });
}

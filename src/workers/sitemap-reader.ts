/**
 * The sitemap reader of a monitor run on the scrape worker: OmniScrape reads go out with the run
 * account's key under a permit of its plan, like any call; direct reads go through the SSRF guard of
 * webhooks (src/webhooks/ssrf.ts, allowlist SCRAPEFLOW_WEBHOOK_ALLOW_HOSTS), since the sitemap URL is
 * whatever a token holder of the HTTP service gave the monitor.
 */
import type { Config } from '../config/env.js';
import type { Logger } from '../logging/logger.js';
import type { OmniScrapeApi } from '../omniscrape/api.js';
import type { PlanPermits } from '../omniscrape/permits.js';
import { createSitemapReader, type SitemapReader, type SitemapSource } from '../sitemaps/index.js';
import { AllowList } from '../webhooks/ssrf.js';

export function monitorSitemapReader(deps: {
  config: Pick<Config, 'SCRAPEFLOW_WEBHOOK_ALLOW_HOSTS'>;
  logger: Logger;
  api: Pick<OmniScrapeApi, 'scrape'>;
  permits: PlanPermits;
}) {
  const { api, permits, logger } = deps;
  const guard = new AllowList(deps.config.SCRAPEFLOW_WEBHOOK_ALLOW_HOSTS);
  const permitted: Pick<OmniScrapeApi, 'scrape'> = {
    async scrape(request, options) {
      const release = await permits.acquire(options.account, {
        ...(options.signal ? { signal: options.signal } : {}),
      });
      try {
        return await api.scrape(request, options);
      } finally {
        await release();
      }
    },
  };
  return (run: { account: string; batchId: string; source: SitemapSource }): SitemapReader =>
    createSitemapReader({
      logger,
      api: permitted,
      account: run.account,
      batchId: run.batchId,
      direct: { guard },
    });
}

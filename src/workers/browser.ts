/**
 * The `browser` role (`scrapeflow worker --queue browser`): serves task queue `browser` only, the BaaS
 * sessions of URLs whose batch has `steps`. It runs no workflows (they run on the `scrapeflow` queue of
 * the `workflows` role), and no browser session ever runs in the HTTP service or on `scrape`.
 *
 * - Tasks at once: `BAAS_CONCURRENCY` (default 2), the worker's activity slots. Sessions at once: each
 *   holds a session permit of its account, whose BaaS session limit (`OMNISCRAPE_BROWSER_SESSIONS`, an
 *   accounts file's `browserSessions`) counts across every browser worker: leases in PostgreSQL with
 *   SCRAPEFLOW_DATABASE_URL, else a semaphore in this process, the one browser worker the filesystem
 *   store lets run (src/omniscrape/shared-permits.ts). A task beyond the limit waits for a permit.
 * - Keys: each session opens with the key of its batch's account (src/config/accounts.ts).
 * - BaaS endpoint: `OMNISCRAPE_BROWSER_URL`, or derived from `OMNISCRAPE_API_URL`: same host and port,
 *   `ws:` for `http:` and `wss:` for `https:`, path `/browser` (the local API's shape; for the hosted API
 *   set `OMNISCRAPE_BROWSER_URL=wss://browser.omniscrape.io`).
 * - On shutdown nothing new is polled; sessions in flight get up to 2 minutes to finish.
 */
import { Worker } from '@temporalio/worker';
import type { Config } from '../config/env.js';
import { createBrowserActivities } from '../activities/browser.js';
import { TASK_QUEUES } from '../workflows/types.js';
import { redactSecrets } from '../logging/secrets.js';
import { openSharedPermits } from '../omniscrape/shared-permits.js';
import { temporalNotifier, type RoleDefinition } from './role.js';
import { ConfigError } from '../errors.js';

/** The BaaS WebSocket base: `OMNISCRAPE_BROWSER_URL`, or `ws(s)://<host of OMNISCRAPE_API_URL>/browser`. */
export function browserUrlFrom(
  config: Pick<Config, 'OMNISCRAPE_BROWSER_URL' | 'OMNISCRAPE_API_URL'>,
): string {
  if (config.OMNISCRAPE_BROWSER_URL) return config.OMNISCRAPE_BROWSER_URL;
  const api = new URL(config.OMNISCRAPE_API_URL);
  return `${api.protocol === 'https:' ? 'wss:' : 'ws:'}//${api.host}/browser`;
}

export const browserRole: RoleDefinition = {
  require(_config, { accounts }) {
    if (accounts.size === 0)
      throw new ConfigError(
        'OMNISCRAPE_KEY or SCRAPEFLOW_ACCOUNTS_FILE is required: the browser worker opens BaaS sessions with their keys',
        'set one of them in the environment of this worker',
      );
  },
  async start({ config, connection, namespace, dataConverter, store, logger, client, accounts, tracing }) {
    const browserUrl = browserUrlFrom(config);
    const shared = await openSharedPermits({
      resource: 'browser',
      accounts,
      databaseUrl: config.SCRAPEFLOW_DATABASE_URL,
      store,
      onError: (err, what) => logger.warn({ err, event: 'session_permits' }, `session permits: ${what}`),
    });
    const created = Worker.create({
      connection,
      namespace,
      dataConverter,
      taskQueue: TASK_QUEUES.browser,
      activities: createBrowserActivities({
        store,
        logger,
        browserUrl,
        keyOf: (account) => accounts.resolve(account).key,
        notifier: temporalNotifier(client, logger),
        permits: shared.permits,
        ...(tracing ? { tracing } : {}),
      }),
      ...tracing?.workerOptions,
      maxConcurrentActivityTaskExecutions: config.BAAS_CONCURRENCY,
      shutdownGraceTime: '2 minutes',
    });
    const worker = await created.catch(async (err: unknown) => {
      await shared.close();
      throw err;
    });
    return {
      workers: [worker],
      info: {
        queues: [TASK_QUEUES.browser],
        concurrency: config.BAAS_CONCURRENCY,
        // Each account's BaaS session limit; never its key.
        sessions: Object.fromEntries(accounts.list().map((a) => [a.name, a.browserSessions])),
        permits: shared.where,
        browserUrl: redactSecrets(browserUrl),
      },
      close: () => shared.close(),
    };
  },
};

/**
 * `scrapeflow serve`: one Temporal client and one store for the life of the process (the guide's
 * section 4 lesson: never a client per request), created before listening and closed after the last
 * request has been answered.
 */
import type { Client } from '@temporalio/client';
import { clientAddress, connectClient } from '../client/temporal.js';
import type { Config } from '../config/env.js';
import type { Logger } from '../logging/logger.js';
import { requireSetup } from '../temporal/setup.js';
import { openStore } from '../store/index.js';
import type { ResultStore } from '../store/types.js';
import { buildService } from './app.js';
import { limitsFromConfig } from './limits.js';
import { accountsFileOf } from '../config/accounts.js';
import { checkAdminToken, openAuthenticator } from '../auth/open.js';

export interface ServiceOptions {
  config: Config;
  logger: Logger;
  /** Interface to listen on. @default '127.0.0.1' */
  host?: string;
  /** TCP port; 0 picks a free one. @default 8787 */
  port?: number;
  /** Use this client instead of connecting one (the embedded stack shares its own); not closed here. */
  client?: Client;
  /** Use this store instead of opening one; not closed here. */
  store?: ResultStore;
}

export interface RunningService {
  /** e.g. `http://127.0.0.1:8787` */
  url: string;
  port: number;
  /** Stops accepting requests, answers the ones in flight, then closes what it opened. */
  close(): Promise<void>;
}

export async function startService(options: ServiceOptions): Promise<RunningService> {
  const { config, logger } = options;
  // A short admin token or a bad accounts file stops the service here, before anything opens.
  checkAdminToken(config);
  const accounts = accountsFileOf(config);
  const store = options.store ?? (await openStore(config));
  let client: Client | undefined;
  let auth;
  try {
    auth = await openAuthenticator(config, store, logger);
    client = options.client ?? (await connectClient(config, { service: 'scrapeflow-service' }));
    // A service against a bare namespace refuses to start (exit 3 naming `scrapeflow cluster setup`).
    await requireSetup(client.connection, client.options.namespace, clientAddress(client));
  } catch (err) {
    if (client && !options.client) await client.connection.close();
    if (!options.store) await store.close();
    throw err;
  }
  const app = await buildService({
    client,
    store,
    auth,
    logger,
    plan: config.OMNISCRAPE_PLAN_CONCURRENCY,
    accounts,
    limits: limitsFromConfig(config),
    ...(config.SCRAPEFLOW_WEBHOOK_ALLOW_HOSTS
      ? { webhookAllowHosts: config.SCRAPEFLOW_WEBHOOK_ALLOW_HOSTS }
      : {}),
  });
  const host = options.host ?? '127.0.0.1';
  try {
    await app.listen({ host, port: options.port ?? 8787 });
  } catch (err) {
    if (!options.client) await client.connection.close();
    if (!options.store) await store.close();
    throw err;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : (options.port ?? 8787);
  const url = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;
  logger.info({ url }, 'service listening');
  return {
    url,
    port,
    async close() {
      await app.close();
      if (!options.client) await client.connection.close();
      if (!options.store) await store.close();
      logger.info('service stopped');
    },
  };
}

/** The webhook store beside a result store: its PostgreSQL database, or `webhooks/` in its data dir. */
import type pg from 'pg';
import { FsWebhookStore } from './fs-store.js';
import { PgWebhookStore } from './pg-store.js';
import type { WebhookStore } from './types.js';

/** None for another store (a test double). */
export function webhookStoreOf(store: object): WebhookStore | undefined {
  if ('pool' in store && 'tablePrefix' in store)
    return new PgWebhookStore(store.pool as pg.Pool, store.tablePrefix as string);
  if ('dataDir' in store) return new FsWebhookStore(store.dataDir as string);
  return undefined;
}

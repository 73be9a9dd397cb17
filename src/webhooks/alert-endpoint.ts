/**
 * ALERT_WEBHOOK_URL, the older alert setting, as a webhook endpoint like any other: every account's
 * `account.low_balance` and `batch.paused`, signed and delivered by the outbox (the in-memory alert
 * sender is gone). Its id is derived from the URL, so every process that opens an event sink finds the
 * same endpoint instead of making its own. Its secret is ALERT_WEBHOOK_SECRET when set (kept in step
 * with it); otherwise one is generated once, shown to nobody: `scrapeflow webhooks rotate-secret <id>`
 * prints a usable one. http is allowed (the operator wrote the URL); the SSRF guard still applies at
 * each delivery, so an internal receiver needs SCRAPEFLOW_WEBHOOK_ALLOW_HOSTS.
 */
import type { Config } from '../config/env.js';
import type { Logger } from '../logging/logger.js';
import { registerSecret } from '../logging/secrets.js';
import { endpointIdOf, generateSecret } from './manage.js';
import type { EndpointRecord, WebhookStore } from './types.js';

export const ALERT_EVENTS = ['account.low_balance', 'batch.paused'];

/** Makes (or updates) ALERT_WEBHOOK_URL's endpoint; undefined when the variable is unset. */
export async function ensureAlertEndpoint(
  store: WebhookStore,
  config: Pick<Config, 'ALERT_WEBHOOK_URL' | 'ALERT_WEBHOOK_SECRET'>,
  logger: Logger,
): Promise<string | undefined> {
  const url = config.ALERT_WEBHOOK_URL;
  if (!url) return undefined;
  registerSecret(url); // alert URLs often carry a token in their path
  registerSecret(config.ALERT_WEBHOOK_SECRET);
  const id = endpointIdOf(url);
  const existing = await store.getEndpoint(id);
  const wanted = config.ALERT_WEBHOOK_SECRET;
  if (existing) {
    if (wanted && existing.secrets[0]?.secret !== wanted)
      await store.updateEndpoint(id, { secrets: [{ secret: wanted }] });
    return id;
  }
  const record: EndpointRecord = {
    id,
    url,
    events: ALERT_EVENTS,
    description: 'ALERT_WEBHOOK_URL',
    allowHttp: true,
    enabled: true,
    createdAt: new Date().toISOString(),
    secrets: [{ secret: wanted ?? generateSecret() }],
  };
  try {
    await store.createEndpoint(record);
  } catch (err) {
    if (!(await store.getEndpoint(id))) throw err; // another process made it meanwhile: fine
    return id;
  }
  logger.info(
    { endpointId: id },
    wanted
      ? 'ALERT_WEBHOOK_URL is webhook endpoint %s, signed with ALERT_WEBHOOK_SECRET'
      : 'ALERT_WEBHOOK_URL is webhook endpoint %s; its secret was generated: `scrapeflow webhooks rotate-secret` prints a usable one',
    id,
  );
  return id;
}

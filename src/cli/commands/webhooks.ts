/**
 * `scrapeflow webhooks add|list|remove|disable|enable|rotate-secret|test|deliveries|redeliver`: the
 * store's webhook endpoints, acted on as admin straight in the store (as `scrapeflow tokens` does: who
 * runs the CLI holds the store's credentials already); the HTTP service's /v1/webhooks acts as a token.
 */
import type { Command } from 'commander';
import type { Config } from '../../config/env.js';
import type { WebhookContext } from '../../webhooks/manage.js';
import type { Delivery, EndpointInfo } from '../../webhooks/types.js';
import { say } from '../context.js';
import { CliError, ExitCode } from '../exit.js';

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `--grace 24h`: a whole number and s, m, h or d. */
function parseGrace(value: string): number {
  const match = /^(\d+)([smhd])$/.exec(value.trim());
  if (!match)
    throw new CliError(
      `--grace must look like 90s, 30m, 24h or 7d (got ${JSON.stringify(value)})`,
      ExitCode.usage,
    );
  return Number(match[1]) * UNITS[match[2]!]!;
}

/** Opens the configured store's webhooks as admin for `work`, closing the store after. */
async function withWebhooks<T>(work: (ctx: WebhookContext, config: Config) => Promise<T>): Promise<T> {
  const [
    { loadConfig },
    { openStore },
    { webhookStoreOf },
    { AllowList },
    { ENV_ADMIN },
    { accountsFileOf },
  ] = await Promise.all([
    import('../../config/env.js'),
    import('../../store/index.js'),
    import('../../webhooks/store.js'),
    import('../../webhooks/ssrf.js'),
    import('../../auth/principal.js'),
    import('../../config/accounts.js'),
  ]);
  const config = loadConfig();
  const store = await openStore(config);
  try {
    const ctx: WebhookContext = {
      store: webhookStoreOf(store)!,
      principal: ENV_ADMIN,
      allow: new AllowList(config.SCRAPEFLOW_WEBHOOK_ALLOW_HOSTS),
      accountsFile: accountsFileOf(config),
    };
    return await work(ctx, config);
  } finally {
    await store.close();
  }
}

const manage = () => import('../../webhooks/manage.js');

function endpointLine(e: EndpointInfo): string {
  const state = e.enabled
    ? 'enabled'
    : `DISABLED (${e.disabledReason ?? 'manual'} ${e.disabledAt ?? ''})`.replace(' )', ')');
  return [
    e.id,
    state.padEnd(10),
    (e.account ?? '(every account)').padEnd(16),
    (e.events.length ? e.events.join(',') : '*').padEnd(24),
    e.url,
    `secret ${e.secretPrefix}`,
  ].join('  ');
}

function deliveryLines(d: Delivery): string[] {
  const head = `${d.eventId} → ${d.endpointId}  ${d.type} #${d.sequence}  ${d.status}, ${d.attempts} tries${d.nextAttemptAt ? `, next ${d.nextAttemptAt}` : ''}`;
  return [
    head,
    ...d.log.map(
      (a) =>
        `  ${a.at}  ${a.status !== undefined ? `HTTP ${a.status}` : `error: ${a.error ?? '?'}`}  ${a.latencyMs} ms${a.nextAttemptAt ? `  retry at ${a.nextAttemptAt}` : ''}`,
    ),
  ];
}

export function registerWebhooks(program: Command): void {
  const webhooks = program
    .command('webhooks')
    .description(
      'webhook endpoints: signed (Standard Webhooks) deliveries of batch and account events, retried for a day',
    );
  webhooks
    .command('add <url>')
    .description('add an endpoint and print its id and secret (the secret is shown once)')
    .option(
      '--events <patterns>',
      'comma list of event types or patterns such as batch.* (default: every event)',
    )
    .option('--account <label>', 'the account whose events it receives (default: every account)')
    .option('--description <text>', 'a note shown by list')
    .option('--allow-http', 'allow an http URL (default: https only)')
    .option('--json', 'print one JSON object, secret included')
    .action(
      async (
        url: string,
        flags: {
          events?: string;
          account?: string;
          description?: string;
          allowHttp?: boolean;
          json?: boolean;
        },
      ) => {
        const { addEndpoint } = await manage();
        await withWebhooks(async (ctx) => {
          const created = await addEndpoint(ctx, {
            url,
            ...(flags.events !== undefined ? { events: flags.events } : {}),
            ...(flags.account !== undefined ? { account: flags.account } : {}),
            ...(flags.description !== undefined ? { description: flags.description } : {}),
            allowHttp: flags.allowHttp ?? false,
          });
          if (flags.json) return say(JSON.stringify(created));
          say(`endpoint ${created.id}: ${created.url}`);
          say(created.secret);
          say(
            '(the signing secret, shown once: verify deliveries with it, e.g. with the standardwebhooks library)',
          );
        });
      },
    );
  webhooks
    .command('list')
    .description('list endpoints: id, enabled or why disabled, account, events, URL, secret prefix')
    .option('--json', 'one JSON object per line')
    .action(async (flags: { json?: boolean }) => {
      const { listEndpoints } = await manage();
      await withWebhooks(async (ctx) => {
        const all = await listEndpoints(ctx);
        for (const e of all) say(flags.json ? JSON.stringify(e) : endpointLine(e));
        if (!flags.json && all.length === 0) say('no webhook endpoints yet: scrapeflow webhooks add <url>');
      });
    });
  const simple = (
    name: string,
    description: string,
    run: (ctx: WebhookContext, id: string) => Promise<unknown>,
    done: string,
  ) =>
    webhooks
      .command(`${name} <id>`)
      .description(description)
      .option('--json', 'print one JSON object')
      .action(async (id: string, flags: { json?: boolean }) => {
        await withWebhooks(async (ctx) => {
          const result = await run(ctx, id);
          say(flags.json ? JSON.stringify(result ?? { id, removed: true }) : `${done} ${id}`);
        });
      });
  simple(
    'remove',
    'remove an endpoint and its deliveries',
    async (ctx, id) => (await manage()).removeEndpoint(ctx, id),
    'removed endpoint',
  );
  simple(
    'disable',
    'stop delivering to an endpoint (its deliveries wait)',
    async (ctx, id) => (await manage()).setEnabled(ctx, id, false),
    'disabled endpoint',
  );
  simple(
    'enable',
    'deliver to an endpoint again (after a 410, 5 days of failures or disable)',
    async (ctx, id) => (await manage()).setEnabled(ctx, id, true),
    'enabled endpoint',
  );
  webhooks
    .command('rotate-secret <id>')
    .description('a new secret, printed once; the old one still signs beside it for the grace period')
    .option('--grace <duration>', 'how long the old secret still signs: 90s, 30m, 24h, 7d', parseGrace)
    .option('--json', 'print one JSON object, secret included')
    .action(async (id: string, flags: { grace?: number; json?: boolean }) => {
      const { rotateSecret } = await manage();
      await withWebhooks(async (ctx) => {
        const rotated = await rotateSecret(ctx, id, flags.grace);
        if (flags.json) return say(JSON.stringify(rotated));
        say(`endpoint ${id}: new secret (the old one signs too until ${rotated.previousExpiresAt})`);
        say(rotated.secret);
      });
    });
  webhooks
    .command('test <id>')
    .description('send a signed ping to an endpoint now and print its answer')
    .option('--json', 'print one JSON object')
    .action(async (id: string, flags: { json?: boolean }) => {
      const { testEndpoint } = await manage();
      await withWebhooks(async (ctx) => {
        const result = await testEndpoint(ctx, id);
        if (flags.json) return say(JSON.stringify(result));
        say(
          result.status !== undefined
            ? `HTTP ${result.status} in ${result.latencyMs} ms${result.answer ? `: ${result.answer.slice(0, 200)}` : ''}`
            : `no answer: ${result.error ?? '?'} (${result.latencyMs} ms)`,
        );
        if (result.status === undefined || result.status < 200 || result.status >= 300)
          process.exitCode = ExitCode.failure;
      });
    });
  webhooks
    .command('deliveries')
    .description(
      'deliveries, newest first: each attempt with its time, HTTP status or error, latency and next retry',
    )
    .option('--endpoint <id>', 'of this endpoint only')
    .option('--event <eventId>', 'of this event only')
    .option('--status <status>', 'delivered, failed or pending')
    .option('--json', 'one JSON object per line')
    .action(async (flags: { endpoint?: string; event?: string; status?: string; json?: boolean }) => {
      const [{ listDeliveries }, { DELIVERY_STATUSES }] = await Promise.all([
        manage(),
        import('../../webhooks/types.js'),
      ]);
      const status = flags.status as (typeof DELIVERY_STATUSES)[number] | undefined;
      if (status !== undefined && !DELIVERY_STATUSES.includes(status))
        throw new CliError(
          `--status must be one of ${DELIVERY_STATUSES.join(', ')} (got ${JSON.stringify(flags.status)})`,
          ExitCode.usage,
        );
      await withWebhooks(async (ctx) => {
        const all = await listDeliveries(ctx, {
          ...(flags.endpoint !== undefined ? { endpointId: flags.endpoint } : {}),
          ...(flags.event !== undefined ? { eventId: flags.event } : {}),
          ...(status ? { status } : {}),
        });
        for (const d of all)
          for (const line of flags.json ? [JSON.stringify(d)] : deliveryLines(d)) say(line);
        if (!flags.json && all.length === 0) say('no deliveries');
      });
    });
  webhooks
    .command('redeliver <eventId>')
    .description('send an event again, same id and body, to every endpoint it went to (or one)')
    .option('--endpoint <id>', 'to this endpoint only')
    .option('--json', 'print one JSON object')
    .action(async (eventId: string, flags: { endpoint?: string; json?: boolean }) => {
      const { redeliver } = await manage();
      await withWebhooks(async (ctx) => {
        const result = await redeliver(ctx, eventId, flags.endpoint);
        say(
          flags.json
            ? JSON.stringify(result)
            : `redelivering ${eventId} to ${result.endpoints.join(', ') || 'no endpoint'}`,
        );
      });
    });
}

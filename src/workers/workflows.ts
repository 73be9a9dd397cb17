/**
 * The `workflows` role (`scrapeflow worker --queue workflows`): serves task queue `scrapeflow`, the
 * batch and page workflows and their bookkeeping activities (input pages, records, pauses, events), so
 * that store reads and writes never take an OmniScrape slot and workflow processing scales apart from
 * the scrape workers. It also runs the webhook dispatcher (src/webhooks/dispatcher.ts).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from '@temporalio/worker';
import { createControlActivities } from '../activities/control.js';
import { createEventActivities } from '../activities/events.js';
import { createMonitorActivities } from '../activities/monitors.js';
import { TASK_QUEUES } from '../workflows/types.js';
import { startWebhookDispatcher } from '../webhooks/start.js';
import type { RoleDefinition } from './role.js';

const BUNDLE = fileURLToPath(new URL('../../workflow-bundle.js', import.meta.url));
const WORKFLOWS = fileURLToPath(new URL('../workflows/index.js', import.meta.url));
/** The workflow interceptors (Temporal's OpenTelemetry ones, for workflows started traced). */
export const WORKFLOW_INTERCEPTORS = fileURLToPath(
  new URL('../workflows/tracing-interceptors.js', import.meta.url),
);

/** The workflow code: the bundle prebuilt by `npm run build`, or the sources bundled at start. */
export function workflowSource():
  | { workflowBundle: { codePath: string } }
  | { workflowsPath: string; interceptors: { workflowModules: string[] } } {
  return existsSync(BUNDLE)
    ? { workflowBundle: { codePath: BUNDLE } }
    : { workflowsPath: WORKFLOWS, interceptors: { workflowModules: [WORKFLOW_INTERCEPTORS] } };
}

/**
 * Where a worker that does not trace sends the spans of a workflow started traced: nowhere (it runs
 * them all the same, without an error per span about a sink it lacks).
 */
export const DROPPED_SPANS = { exporter: { export: { fn: () => undefined } } };

export const workflowsRole: RoleDefinition = {
  async start({
    config,
    connection,
    namespace,
    dataConverter,
    store,
    logger,
    client,
    events,
    tracing,
    registry,
  }) {
    const { interceptors, ...source } = { interceptors: undefined, ...workflowSource() };
    const worker = await Worker.create({
      connection,
      namespace,
      dataConverter,
      taskQueue: TASK_QUEUES.workflows,
      ...source,
      activities: {
        ...createControlActivities({ store, logger, client }),
        ...createEventActivities({
          events,
          store,
          logger,
          links: { publicUrl: config.SCRAPEFLOW_PUBLIC_URL, uiUrl: config.TEMPORAL_UI_URL },
        }),
        ...createMonitorActivities({
          store,
          logger,
          client,
          events,
        }),
      },
      interceptors: { ...tracing?.workerOptions.interceptors, ...interceptors },
      sinks: tracing?.workerOptions.sinks ?? DROPPED_SPANS,
      shutdownGraceTime: '30 seconds',
    });
    // Webhook deliveries from the store's outbox: every deployment runs a workflows worker, so every
    // deployment delivers (src/webhooks/dispatcher.ts); apart from the workflows, which only record.
    const dispatcher = startWebhookDispatcher({ config, store, logger, ...(registry ? { registry } : {}) });
    return {
      workers: [worker],
      info: { queues: [TASK_QUEUES.workflows], webhooks: Boolean(dispatcher) },
      close: async () => dispatcher?.stop(),
    };
  },
};

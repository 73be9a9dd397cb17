/**
 * The `workflows` role (`scrapeflow worker --queue workflows`): serves task queue `scrapeflow`, the
 * batch and page workflows and their bookkeeping activities (input pages, records, pauses, alerts), so
 * that store reads and writes never take an OmniScrape slot and workflow processing scales apart from
 * the scrape workers.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from '@temporalio/worker';
import { createControlActivities } from '../activities/control.js';
import { TASK_QUEUES } from '../workflows/types.js';
import type { RoleDefinition } from './role.js';

const BUNDLE = fileURLToPath(new URL('../../workflow-bundle.js', import.meta.url));
const WORKFLOWS = fileURLToPath(new URL('../workflows/index.js', import.meta.url));

/** The workflow code: the bundle prebuilt by `npm run build`, or the sources bundled at start. */
export function workflowSource(): { workflowBundle: { codePath: string } } | { workflowsPath: string } {
  return existsSync(BUNDLE) ? { workflowBundle: { codePath: BUNDLE } } : { workflowsPath: WORKFLOWS };
}

export const workflowsRole: RoleDefinition = {
  async start({ connection, namespace, dataConverter, store, logger, client, alerts }) {
    const worker = await Worker.create({
      connection,
      namespace,
      dataConverter,
      taskQueue: TASK_QUEUES.workflows,
      ...workflowSource(),
      activities: createControlActivities({ store, logger, client, sendAlert: alerts.sendAlert }),
      shutdownGraceTime: '30 seconds',
    });
    return { workers: [worker], info: { queues: [TASK_QUEUES.workflows] } };
  },
};

#!/usr/bin/env node
// Pre-bundles the workflow code at build time so worker processes start without running webpack.
import { bundleWorkflowCode } from '@temporalio/worker';
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const workflowsPath = fileURLToPath(new URL('../dist/src/workflows/index.js', import.meta.url));
const { code } = await bundleWorkflowCode({
  workflowsPath,
  logger: { log() {}, trace() {}, debug() {}, info() {}, warn: console.warn, error: console.error },
});
await writeFile(new URL('../dist/workflow-bundle.js', import.meta.url), code);

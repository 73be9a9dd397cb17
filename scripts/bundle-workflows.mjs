#!/usr/bin/env node
// Pre-bundles the workflow code at build time so worker processes start without running webpack, with
// the workflow interceptors (src/workflows/tracing-interceptors.ts: inert for workflows started untraced).
import { bundleWorkflowCode } from '@temporalio/worker';
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const dist = (path) => fileURLToPath(new URL(`../dist/${path}`, import.meta.url));
const { code } = await bundleWorkflowCode({
  workflowsPath: dist('src/workflows/index.js'),
  workflowInterceptorModules: [dist('src/workflows/tracing-interceptors.js')],
  logger: { log() {}, trace() {}, debug() {}, info() {}, warn: console.warn, error: console.error },
});
await writeFile(dist('workflow-bundle.js'), code);

/** The workflow bundle's entry: every workflow the control worker runs. */
export { batchWorkflow } from './batch.js';
export { pageWorkflow } from './page.js';
export { monitorRunWorkflow } from './monitor.js';

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, type Stack } from '../support/stack.js';

let stack: Stack;
before(async () => {
  stack = await startStack();
});
after(() => stack?.stop());

describe('browser worker metrics', () => {
  it('serves one Prometheus page with our metrics and the Temporal runtime’s', async () => {
    const worker = await stack.startWorker({ SCRAPEFLOW_METRICS_PORT: '0' }, 'browser');
    const line = worker.lines
      .map((l) => JSON.parse(l) as { event?: string; url?: string })
      .find((l) => l.event === 'metrics_listening');
    assert.ok(line?.url, 'the worker logged its metrics endpoint');
    const res = await fetch(line.url);
    assert.equal(res.status, 200);
    const text = await res.text();
    assert.match(text, /^scrapeflow_process_cpu_seconds_total/m, 'our registry');
    assert.match(text, /^temporal_/m, 'the Temporal runtime’s exporter');
  });
});

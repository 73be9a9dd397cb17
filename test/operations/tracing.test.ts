/**
 * Traces: with the standard OTEL_* variables set, one trace goes from `scrapeflow start` (a CLI
 * process) through the batch and page workflows (a `workflows` worker process), a URL activity and its
 * OmniScrape call (a `scrape` worker process), another URL's BaaS session (a `browser` worker process)
 * and their store writes, to an OTLP/HTTP receiver. No span attribute carries the API key (the BaaS
 * endpoint holds it), and the traced workflows replay.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Worker } from '@temporalio/worker';
import { DROPPED_SPANS, workflowSource } from '../../src/workers/workflows.js';
import { processTracing, tracingRequested } from '../../src/tracing/index.js';
import { runCli } from '../support/cli.js';
import { eventually, startStack, type Stack } from '../support/stack.js';

interface OtlpValue {
  stringValue?: string;
  intValue?: string | number;
  doubleValue?: number;
  boolValue?: boolean;
}
interface OtlpAttribute {
  key: string;
  value: OtlpValue;
}
interface ReceivedSpan {
  service: string;
  traceId: string;
  name: string;
  attributes: Record<string, string | number | boolean | undefined>;
}
interface OtlpBody {
  resourceSpans?: Array<{
    resource?: { attributes?: OtlpAttribute[] };
    scopeSpans?: Array<{ spans?: Array<{ traceId: string; name: string; attributes?: OtlpAttribute[] }> }>;
  }>;
}

const valueOf = (v: OtlpValue) =>
  v.stringValue ?? (v.intValue !== undefined ? Number(v.intValue) : (v.doubleValue ?? v.boolValue));
const attributesOf = (list: OtlpAttribute[] = []) =>
  Object.fromEntries(list.map((a) => [a.key, valueOf(a.value)]));

/** An OTLP/HTTP receiver (JSON encoding, the exporter's default): every span it was sent. */
async function startReceiver(): Promise<{ server: Server; url: string; spans: ReceivedSpan[] }> {
  const spans: ReceivedSpan[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      if (req.method === 'POST' && req.url === '/v1/traces') {
        for (const rs of (JSON.parse(body) as OtlpBody).resourceSpans ?? []) {
          const service = String(attributesOf(rs.resource?.attributes)['service.name']);
          for (const ss of rs.scopeSpans ?? [])
            for (const s of ss.spans ?? [])
              spans.push({
                service,
                traceId: s.traceId,
                name: s.name,
                attributes: attributesOf(s.attributes),
              });
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address() as { port: number };
  return { server, url: `http://127.0.0.1:${address.port}`, spans };
}

let stack: Stack;
let receiver: Awaited<ReturnType<typeof startReceiver>>;
let otel: Record<string, string>;
let workers: Array<{ lines: string[] }>;

before(async () => {
  receiver = await startReceiver();
  otel = { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: '100' };
  stack = await startStack({ workerEnv: otel });
  workers = [
    await stack.startWorker({}, 'workflows'),
    await stack.startWorker({}, 'scrape'),
    await stack.startWorker({}, 'browser'),
  ];
});
after(async () => {
  await stack?.stop();
  receiver?.server.close();
});

describe('traces over OTLP/HTTP', () => {
  it('are off without an OTLP endpoint: no tracing starts', async () => {
    assert.equal(tracingRequested({}), false);
    assert.equal(tracingRequested({ OTEL_SERVICE_NAME: 'x' }), false);
    assert.equal(tracingRequested({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c:4318/v1/traces' }), true);
    assert.equal(
      tracingRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_SDK_DISABLED: 'true' }),
      false,
    );
    assert.equal(process.env.OTEL_EXPORTER_OTLP_ENDPOINT, undefined);
    assert.equal(await processTracing('scrapeflow-test'), undefined);
    for (const worker of workers)
      assert.ok(
        worker.lines.some((l) => l.includes('"traced":true')),
        'the workers say they trace',
      );
  });

  it('one trace from scrapeflow start to the OmniScrape call and the BaaS session spans the CLI and the workflows, scrape and browser workers', async () => {
    // One URL on the HTTP path, one in a browser session (whose endpoint carries the key).
    const file = join(stack.dataDir, 'traced.jsonl');
    await writeFile(
      file,
      [
        { url: `${stack.demoOrigin}/p/1` },
        { url: `${stack.demoOrigin}/interactive`, steps: [{ action: 'extract', fields: { title: 'h1' } }] },
      ]
        .map((line) => JSON.stringify(line))
        .join('\n'),
    );
    const run = await runCli(stack, ['start', file, '--batch-id', 'traced', '--mode', 'fast', '--wait'], {
      env: otel,
    });
    assert.equal(run.code, 0, run.stderr);

    const call = await eventually(
      () =>
        Promise.resolve(
          receiver.spans.find(
            (s) => s.name === 'omniscrape scrape' && s.attributes['scrapeflow.batch_id'] === 'traced',
          ),
        ),
      { what: 'the OmniScrape call span', timeoutMs: 30_000 },
    );
    const trace = await eventually(
      () => {
        const spans = receiver.spans.filter((s) => s.traceId === call.traceId);
        const names = new Set(spans.map((s) => s.name));
        const wanted = [
          'RunWorkflow:batchWorkflow',
          'RunWorkflow:pageWorkflow',
          'RunActivity:scrapeUrl',
          'store putResult',
          'omniscrape browser_session',
        ];
        const whole = wanted.every((n) => names.has(n)) && spans.some((s) => s.service === 'scrapeflow-cli');
        return Promise.resolve(whole && spans);
      },
      { what: 'the whole trace', timeoutMs: 30_000 },
    );
    const summary = trace.map((s) => `${s.service}: ${s.name}`).sort();
    console.log([...new Set(summary)].join('\n'));

    const services = new Set(trace.map((s) => s.service));
    for (const service of [
      'scrapeflow-cli',
      'scrapeflow-worker-workflows',
      'scrapeflow-worker-scrape',
      'scrapeflow-worker-browser',
    ])
      assert.ok(services.has(service), `spans of ${service} in the trace: ${[...services].join(', ')}`);
    assert.ok(
      trace.some((s) => s.service === 'scrapeflow-cli' && s.name.startsWith('StartWorkflow:batchWorkflow')),
      'the CLI started the batch workflow in this trace',
    );
    assert.ok(
      trace.some((s) => s.service === 'scrapeflow-worker-workflows' && s.name === 'RunWorkflow:pageWorkflow'),
    );
    assert.ok(
      trace.some((s) => s.service === 'scrapeflow-worker-scrape' && s.name === 'RunActivity:scrapeUrl'),
    );
    assert.equal(call.service, 'scrapeflow-worker-scrape');
    assert.deepEqual(
      {
        call: call.attributes['omniscrape.call'],
        mode: call.attributes['omniscrape.mode'],
        outcome: call.attributes['omniscrape.outcome'],
        outcomeClass: call.attributes['omniscrape.outcome_class'],
        attempt: call.attributes['omniscrape.attempt'],
        url: call.attributes['url.full'],
      },
      {
        call: 'scrape',
        mode: 'fast',
        outcome: 'success',
        outcomeClass: 'ok',
        attempt: 1,
        url: `${stack.demoOrigin}/p/1`,
      },
    );
    assert.ok(Number(call.attributes['omniscrape.charged']) > 0, 'the call was charged');
    const session = trace.find((s) => s.name === 'omniscrape browser_session');
    assert.deepEqual(
      [session?.service, session?.attributes['omniscrape.outcome'], session?.attributes['url.full']],
      ['scrapeflow-worker-browser', 'success', `${stack.demoOrigin}/interactive`],
    );
    assert.ok(String(call.attributes['omniscrape.method_used']).length > 0, 'method_used is recorded');

    // The traced workflows replay on the one bundle, as any worker (tracing or not) replays them.
    const histories = await Promise.all(
      ['traced', 'traced/p0'].map(async (workflowId) => ({
        workflowId,
        history: await stack.client.workflow.getHandle(workflowId).fetchHistory(),
      })),
    );
    for await (const result of Worker.runReplayHistories(
      { ...workflowSource(), sinks: DROPPED_SPANS },
      histories,
    ))
      assert.equal(result.error, undefined, `${result.workflowId} replays`);

    const leaked = receiver.spans.filter((s) =>
      Object.values(s.attributes).some((v) => String(v).includes(stack.apiKey)),
    );
    assert.deepEqual(
      leaked.map((s) => s.name),
      [],
      'no span attribute carries the API key',
    );
  });
});

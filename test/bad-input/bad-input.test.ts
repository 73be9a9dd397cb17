/**
 * The bad-input corpus (test/fixtures/bad-input, documented in its README): each input goes through the
 * real CLI (`bin/scrapeflow start` as a process, against a real dev server and worker) or the real HTTP
 * service, and gets its documented outcome: a clear error naming the line or field, or documented
 * handling. Afterwards the worker is still running and no workflow is left stuck.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createWriteStream } from 'node:fs';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { buildService } from '../../src/service/app.js';
import { MAX_LINE_BYTES } from '../../src/client/input.js';
import type { ResultRecord } from '../../src/store/types.js';
import { runCli, type CliRun } from '../support/cli.js';
import { eventually, startStack, type Stack, type WorkerProcess } from '../support/stack.js';

const CORPUS = new URL('../../../test/fixtures/bad-input/', import.meta.url);
const TOKEN = 'bad-input-test-token-0123456789';
/** V8 heap cap for the million-line run, in MiB: enough to stream, too little to hold the input. */
const HEAP_CAP_MB = 96;
/** URLs of the long-URL case. */
const LONG_URLS = 150;

let stack: Stack;
let worker: WorkerProcess;
let app: FastifyInstance;
let serviceUrl: string;

before(async () => {
  stack = await startStack({ concurrency: 3 });
  worker = await stack.startWorker();
  app = await buildService({
    client: stack.client,
    store: stack.store,
    token: TOKEN,
    logger: pino({ level: 'silent' }),
    bodyLimitBytes: 64 * 1024,
  });
  serviceUrl = await app.listen({ host: '127.0.0.1', port: 0 });
});
after(async () => {
  await app?.close();
  await stack?.stop();
});

/** Runs `scrapeflow <args>` against this suite's stack. */
const cli = (args: string[], env: Record<string, string> = {}): Promise<CliRun> =>
  runCli(stack, args, { env });

/** A corpus file with `{{origin}}` replaced, byte for byte (latin1 keeps every byte as it is). */
async function fixture(name: string): Promise<string> {
  const raw = await readFile(new URL(name, CORPUS));
  const path = join(stack.dataDir, name);
  await writeFile(
    path,
    Buffer.from(raw.toString('latin1').replaceAll('{{origin}}', stack.demoOrigin), 'latin1'),
  );
  return path;
}

async function records(batchId: string): Promise<ResultRecord[]> {
  const out: ResultRecord[] = [];
  for await (const r of stack.store.listResults(batchId)) out.push(r);
  return out.sort((a, b) => a.index - b.index);
}

async function batchExists(batchId: string): Promise<boolean> {
  try {
    await stack.client.workflow.getHandle(batchId).describe();
    return true;
  } catch {
    return false;
  }
}

interface Case {
  name: string;
  args: () => Promise<string[]>;
  /** Expected exit code. */
  code: number;
  /** Substrings of stderr (errors) or stdout (success). */
  says: string[];
  /** For accepted inputs: the URLs the batch holds, in order (paths on the demo site). */
  urls?: string[];
}

const CASES: Case[] = [
  {
    name: 'blank lines, whitespace, comments and CRLF line ends are skipped; URLs are trimmed',
    args: async () => [await fixture('blank-lines-and-comments.txt'), '--batch-id', 'bad-blank', '--wait'],
    code: 0,
    says: ['started batch bad-blank with 3 URLs'],
    urls: ['/p/1', '/p/2', '/p/3'],
  },
  {
    name: 'duplicates keep their lines: each line has its own record (the URL is scraped once)',
    args: async () => [await fixture('duplicates.txt'), '--batch-id', 'bad-dup', '--wait'],
    code: 0,
    says: ['with 4 URLs'],
    urls: ['/p/11', '/p/11', '/p/12', '/p/11'],
  },
  {
    name: 'an invalid URL rejects the file, naming the first bad line; no batch starts',
    args: async () => [await fixture('invalid-urls.txt'), '--batch-id', 'bad-url'],
    code: 2,
    says: ['line 3: "not-a-url" is not a valid http(s) URL'],
  },
  {
    name: '--skip-invalid skips (and reports) every invalid line',
    args: async () => [
      await fixture('invalid-urls.txt'),
      '--batch-id',
      'bad-url-skip',
      '--skip-invalid',
      '--wait',
    ],
    code: 0,
    says: ['skipped line 3', 'skipped line 5', 'with 3 URLs (2 invalid lines skipped)'],
    urls: ['/p/21', '/p/22', '/p/23'],
  },
  {
    name: 'bytes that are not UTF-8 are named by line',
    args: async () => [await fixture('non-utf8.txt'), '--batch-id', 'bad-utf8'],
    code: 2,
    says: ['line 2: is not valid UTF-8'],
  },
  {
    name: 'a very long line is rejected without being buffered',
    args: async () => {
      const path = join(stack.dataDir, 'long-line.txt');
      await writeFile(path, `${stack.demoOrigin}/p/1\n${stack.demoOrigin}/p/${'9'.repeat(70_000)}\n`);
      return [path, '--batch-id', 'bad-long'];
    },
    code: 2,
    says: [`line 2: is longer than ${MAX_LINE_BYTES} bytes`],
  },
  {
    name: 'URLs at the 8,192-character limit run: the input is paged by bytes, not only by count',
    args: async () => {
      // 150 URLs of ~8 KB (the URL limit is 8,192 characters): 1.2 MB, loaded as three pages.
      const path = join(stack.dataDir, 'long-urls.txt');
      const pad = 'a'.repeat(8_000);
      const lines = Array.from({ length: LONG_URLS }, (_, i) => `${stack.demoOrigin}/p/${i + 1}?pad=${pad}`);
      await writeFile(path, lines.join('\n') + '\n');
      return [path, '--batch-id', 'long-urls', '--concurrency', '10', '--wait'];
    },
    code: 0,
    says: [`with ${LONG_URLS} URLs`],
    urls: Array.from({ length: LONG_URLS }, (_, i) => `/p/${i + 1}`),
  },
  {
    name: 'a JSONL line whose own browser steps are invalid names the line and the field',
    args: async () => [await fixture('bad-steps.jsonl'), '--batch-id', 'bad-steps'],
    code: 2,
    says: ['line 2: steps[0].selector: is required'],
  },
  {
    name: 'a CSV file without a url column',
    args: async () => [await fixture('no-url-column.csv'), '--batch-id', 'bad-csv'],
    code: 2,
    says: ['has no "url" column'],
  },
  {
    name: 'a JSONL line that is not JSON',
    args: async () => [await fixture('broken.jsonl'), '--batch-id', 'bad-jsonl'],
    code: 2,
    says: ['line 2: is not JSON'],
  },
  {
    name: 'a file with no URLs at all',
    args: async () => [await fixture('empty.txt'), '--batch-id', 'bad-empty'],
    code: 2,
    says: ['urls: the batch has no URLs'],
  },
  {
    name: 'invalid CSS selectors are rejected at batch start, naming the field',
    args: async () => [
      await fixture('blank-lines-and-comments.txt'),
      '--selectors',
      await fixture('invalid-selectors.json'),
      '--batch-id',
      'bad-selectors',
    ],
    code: 2,
    says: [
      'cssSelectors.price: is not a valid CSS selector',
      'cssSelectors.sku: is not a valid CSS selector',
    ],
  },
  {
    name: 'an invalid selector given as a flag',
    args: async () => [
      await fixture('blank-lines-and-comments.txt'),
      '--selector',
      'title=h1:unknown',
      '--batch-id',
      'bad-selector-flag',
    ],
    code: 2,
    says: ['cssSelectors.title: is not a valid CSS selector'],
  },
  {
    name: 'more selectors than the cap: exit 2 naming the field',
    args: async () => [
      await fixture('blank-lines-and-comments.txt'),
      '--selectors',
      await fixture('too-many-selectors.json'),
      '--batch-id',
      'bad-too-many-selectors',
    ],
    code: 2,
    says: ['cssSelectors: has more than 100 selectors'],
  },
  {
    name: 'a JSONL line with more tags than the cap: exit 2 naming the line',
    args: async () => {
      const path = join(stack.dataDir, 'many-tags.jsonl');
      const tags = Array.from({ length: 51 }, (_, i) => `t${i}`);
      await writeFile(path, `${JSON.stringify({ url: `${stack.demoOrigin}/p/1`, tags })}\n`);
      return [path, '--batch-id', 'bad-many-tags'];
    },
    code: 2,
    says: ['line 1: has 51 tags, over the 50 a line may carry'],
  },
  {
    name: 'a selectors file that is not an object',
    args: async () => [
      await fixture('blank-lines-and-comments.txt'),
      '--selectors',
      await fixture('selectors-not-object.json'),
      '--batch-id',
      'bad-selectors-file',
    ],
    code: 2,
    says: ['must hold a JSON object of name → CSS selector'],
  },
];

describe('bad input through the real CLI', () => {
  for (const c of CASES) {
    it(c.name, async () => {
      const args = await c.args();
      const batchId = args[args.indexOf('--batch-id') + 1]!;
      const run = await cli(['start', ...args]);
      const output = c.code === 0 ? run.stdout + run.stderr : run.stderr;
      assert.equal(run.code, c.code, `exit ${run.code}; stdout: ${run.stdout}; stderr: ${run.stderr}`);
      for (const text of c.says) assert.ok(output.includes(text), `says ${JSON.stringify(text)}: ${output}`);
      if (c.code !== 0) {
        assert.ok(!run.stderr.includes('    at '), `a one-line error, not a stack trace: ${run.stderr}`);
        assert.equal(await batchExists(batchId), false, 'no batch was started');
        return;
      }
      const rs = await records(batchId);
      assert.deepEqual(
        rs.map((r) => new URL(r.url).pathname),
        c.urls,
        'one record per accepted line, in order',
      );
      assert.ok(rs.every((r) => r.status === 'succeeded'));
    });
  }

  it('a million lines stream into the store with bounded memory', { timeout: 10 * 60_000 }, async () => {
    /** Writes `lines` lines (every 100th a comment, as real files have), streamed. */
    const generate = async (name: string, lines: number) => {
      const path = join(stack.dataDir, name);
      const out = createWriteStream(path);
      for (let i = 0; i < lines; i++) {
        const line = i % 100 === 99 ? '# checkpoint\n' : `${stack.demoOrigin}/p/${(i % 5000) + 1}?n=${i}\n`;
        if (!out.write(line)) await once(out, 'drain');
      }
      out.end();
      await once(out, 'finish');
      return path;
    };
    /** Accepted as designed; the workflow is stopped at once (running a million URLs is the scale bench). */
    const start = async (path: string, batchId: string, env: Record<string, string> = {}) => {
      const run = await cli(['start', path, '--batch-id', batchId, '--concurrency', '1', '--json'], env);
      assert.equal(run.code, 0, run.stderr);
      await stack.client.workflow.getHandle(batchId).terminate('bad-input test: accepted, not run');
      return { ...run, total: (JSON.parse(run.stdout.trim()) as { total: number }).total };
    };
    const LINES = 1_000_000;
    const path = await generate('million.txt', LINES);
    // Streaming, not buffering: with the V8 heap capped at HEAP_CAP_MB the million lines still go through
    // (their URLs alone, held as objects, would need more than that).
    const million = await start(path, 'bad-million', { NODE_OPTIONS: `--max-old-space-size=${HEAP_CAP_MB}` });
    assert.equal(million.total, LINES - LINES / 100);
    const fileMb = (await stat(path)).size / 2 ** 20;
    process.stdout.write(
      `# bad-input: a million lines (${million.total} URLs, ${fileMb.toFixed(0)} MiB) accepted under a ` +
        `${HEAP_CAP_MB} MiB heap; CLI peak RSS ${million.peakRssMb.toFixed(0)} MiB\n`,
    );
  });
});

describe('bad input through the real HTTP service', () => {
  const post = (body: string) =>
    fetch(`${serviceUrl}/v1/batches`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body,
    });
  const urls = () => [`${stack.demoOrigin}/p/1`];
  const cases: Array<[string, Record<string, unknown>, string]> = [
    [
      'outputFormat html with a schema',
      { outputFormat: 'html', schema: { t: { type: 'string' } } },
      'body.options.schema',
    ],
    [
      'mode fast with jsWaitSelector',
      { mode: 'fast', jsWaitSelector: '#ready' },
      'body.options.jsWaitSelector',
    ],
    ['css_extractor without selectors', { outputFormat: 'css_extractor' }, 'body.options.cssSelectors'],
    [
      'an invalid selector',
      { cssSelectors: { t: 'h1[' }, outputFormat: 'css_extractor' },
      'body.options.cssSelectors.t',
    ],
  ];
  for (const [name, options, field] of cases) {
    it(`contradictory or invalid options: ${name} -> 400 naming ${field}`, async () => {
      const res = await post(JSON.stringify({ urls: urls(), options }));
      const body = (await res.json()) as { error: string; field: string; message: string };
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(body.field, field, body.message);
    });
  }

  it('a body over the limit is refused naming the body, and the service keeps serving', async () => {
    const many = Array.from({ length: 5000 }, (_, i) => `${stack.demoOrigin}/p/${i + 1}`);
    const res = await post(JSON.stringify({ urls: many }));
    const body = (await res.json()) as { error: string; field: string; message: string };
    assert.equal(res.status, 413, JSON.stringify(body));
    assert.equal(body.field, 'body');
    assert.match(body.message, /body/i);
    const health = await fetch(`${serviceUrl}/healthz`, { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(health.status, 200);
  });
});

describe('after the corpus', () => {
  it('the worker never crashed and no workflow is left running', async () => {
    assert.equal(worker.child.exitCode, null, 'the worker is alive');
    assert.equal(worker.child.signalCode, null);
    // The terminated million-URL batch may have a child still finishing: wait for it, bounded.
    const running = async () => {
      const ids: string[] = [];
      for await (const wf of stack.client.workflow.list({ query: 'ExecutionStatus = "Running"' }))
        ids.push(wf.workflowId);
      return ids;
    };
    await eventually(async () => (await running()).length === 0, {
      timeoutMs: 60_000,
      intervalMs: 500,
      what: 'no workflow left running',
    }).catch(async () => assert.deepEqual(await running(), [], 'no stuck workflow'));
  });
});

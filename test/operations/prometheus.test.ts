/**
 * deploy/prometheus and deploy/grafana against the real tools: promtool checks the scrape config and
 * the rules and runs the rules' unit tests (rules.test.yml); a real Prometheus server scrapes a live
 * worker while a batch pauses at its credit cap, and evaluates the shipped rules on what it scraped;
 * every metric the rules and the dashboard query is on the worker's page.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../devkit/temporal/dev-server.js';
import { startBatch } from '../../src/client/batches.js';
import { eventually, startStack, type Stack } from '../support/stack.js';

const DEPLOY = new URL('../../../deploy/', import.meta.url).pathname;
const PROMETHEUS_DIR = join(DEPLOY, 'prometheus');
const RULES = join(PROMETHEUS_DIR, 'rules.yml');
const DASHBOARD = join(DEPLOY, 'grafana', 'scrapeflow.json');

const installed = (bin: string) => spawnSync(bin, ['--version'], { stdio: 'ignore' }).status === 0;
const skip = (bin: string) =>
  installed(bin) ? false : `${bin} not installed (scripts/setup.sh installs it)`;

function promtool(...args: string[]): string {
  const result = spawnSync('promtool', args, { cwd: PROMETHEUS_DIR, encoding: 'utf8' });
  assert.equal(result.status, 0, `promtool ${args.join(' ')}:\n${result.stdout}${result.stderr}`);
  return result.stdout;
}

describe('deploy/prometheus under promtool', { skip: skip('promtool') }, () => {
  it('the scrape config is valid (its token file exists only where it is deployed)', () => {
    assert.match(promtool('check', 'config', '--syntax-only', 'prometheus.yml'), /SUCCESS/);
  });

  it('the rules are valid and their unit tests pass', () => {
    assert.match(promtool('check', 'rules', 'rules.yml'), /SUCCESS: \d+ rules found/);
    assert.match(promtool('test', 'rules', 'rules.test.yml'), /SUCCESS/);
  });
});

/** Metric names a PromQL expression reads: identifiers that are not functions, keywords or labels. */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""') // label values
    .replace(/\{[^}]*\}/g, '') // matchers
    .replace(/\[[^\]]*\]/g, '') // ranges, $__rate_interval
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ''); // label lists
  const keywords = new Set(['and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan']);
  return [...bare.matchAll(/(?<![\w.$])([a-zA-Z_:][\w:]*)(?!\w)(\s*\()?/g)]
    .filter((m) => !m[2] && !keywords.has(m[1]!.toLowerCase()))
    .map((m) => m[1]!);
}

/** Every expression of the shipped rules and dashboard. */
async function shippedExpressions(): Promise<Array<{ where: string; expr: string }>> {
  const rules = await readFile(RULES, 'utf8');
  const fromRules = [...rules.matchAll(/^\s+expr: (.+)$/gm)].map((m) => ({
    where: 'rules.yml',
    expr: m[1]!,
  }));
  const dashboard = JSON.parse(await readFile(DASHBOARD, 'utf8')) as {
    panels: Array<{ title: string; targets: Array<{ expr: string }> }>;
  };
  const fromDashboard = dashboard.panels.flatMap((p) =>
    p.targets.map((t) => ({ where: `dashboard panel "${p.title}"`, expr: t.expr })),
  );
  return [...fromRules, ...fromDashboard];
}

describe('metricNames', () => {
  it('keeps metric names and drops functions, labels, matchers and ranges', () => {
    assert.deepEqual(
      metricNames(
        'histogram_quantile(0.95, sum by (le, task_queue) (rate(a_bucket{x="y z"}[$__rate_interval]))) / on (job) b > 1e-9 unless c',
      ),
      ['a_bucket', 'b', 'c'],
    );
  });
});

interface PrometheusServer {
  url: string;
  query(expr: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>>;
  stop(): Promise<void>;
}

/** `prometheus` on a free port and a temp data dir, scraping `target` every second with the shipped rules. */
async function startPrometheus(target: string): Promise<PrometheusServer> {
  const dir = await mkdtemp(join(tmpdir(), 'scrapeflow-prometheus-'));
  const config = [
    'global: { scrape_interval: 1s, evaluation_interval: 1s }',
    `rule_files: [${JSON.stringify(RULES)}]`,
    'scrape_configs:',
    '  - job_name: scrapeflow-workflows',
    `    static_configs: [{ targets: [${JSON.stringify(target)}] }]`,
  ].join('\n');
  await writeFile(join(dir, 'prometheus.yml'), config);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(
    'prometheus',
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  child.stderr!.on('data', (chunk: Buffer) => (log += chunk.toString()));
  const exited = once(child, 'exit');
  const stop = async () => {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await eventually(
      async () => {
        if (child.exitCode !== null) throw new Error(`prometheus exited:\n${log}`);
        return (await fetch(`${url}/-/ready`).catch(() => undefined))?.ok;
      },
      { what: 'prometheus ready', timeoutMs: 30_000 },
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    url,
    async query(expr) {
      const res = await fetch(`${url}/api/v1/query?${new URLSearchParams({ query: expr }).toString()}`);
      const body = (await res.json()) as { status: string; data: { result: [] }; error?: string };
      assert.equal(body.status, 'success', body.error);
      return body.data.result;
    },
    stop,
  };
}

describe('a real Prometheus scraping a live worker', { skip: skip('prometheus') }, () => {
  let stack: Stack;
  let prometheus: PrometheusServer;
  let metricsUrl: string;
  const batchId = 'prometheus-budget';

  before(async () => {
    stack = await startStack();
    const worker = await stack.startWorker({ SCRAPEFLOW_METRICS_PORT: '0' }, 'workflows,scrape');
    const line = worker.lines
      .map((l) => JSON.parse(l) as { event?: string; url?: string })
      .find((l) => l.event === 'metrics_listening');
    assert.ok(line?.url, 'the worker logged its metrics endpoint');
    metricsUrl = line.url;
    prometheus = await startPrometheus(new URL(metricsUrl).host);
    // Three calls' worth of URLs and a cap of two credits: the batch pauses (reason budget) after two.
    await startBatch(stack.client, stack.store, {
      batchId,
      urls: [1, 2, 3].map((n) => ({ url: `${stack.demoOrigin}/p/${n}` })),
      options: { mode: 'fast', concurrency: 1, maxCredits: 2 },
    });
  });
  after(async () => {
    await prometheus?.stop();
    await stack?.stop();
  });

  it('scrapes the paused batch and the credits it spent, and the pause rule matches it', async () => {
    const value = (r: Array<{ value: [number, string] }>) => (r.length === 1 ? Number(r[0]!.value[1]) : NaN);
    await eventually(
      async () =>
        value(await prometheus.query('max by (reason) (scrapeflow_batches_paused{reason="budget"})')) === 1,
      { what: 'Prometheus to see one batch paused for budget', timeoutMs: 120_000 },
    );
    assert.equal(value(await prometheus.query('sum(scrapeflow_credits_charged_total)')), 2);
    assert.equal(value(await prometheus.query('max(scrapeflow_batches_paused{reason="manual"})')), 0);
    // The shipped rule evaluates on the scraped series: pending, for its 15 minutes.
    const alert = await eventually(
      async () => {
        const res = await fetch(`${prometheus.url}/api/v1/alerts`);
        const body = (await res.json()) as {
          data: { alerts: Array<{ labels: Record<string, string>; state: string }> };
        };
        return body.data.alerts.find((a) => a.labels.alertname === 'ScrapeflowBatchesPaused');
      },
      { what: 'the ScrapeflowBatchesPaused alert', timeoutMs: 30_000 },
    );
    assert.equal(alert.state, 'pending');
    assert.equal(alert.labels.reason, 'budget');
    // Every shipped rule evaluates on real series without an error (a label clash would show here).
    const res = await fetch(`${prometheus.url}/api/v1/rules`);
    const { data } = (await res.json()) as {
      data: { groups: Array<{ rules: Array<{ name: string; health: string; lastError?: string }> }> };
    };
    const rules = data.groups.flatMap((g) => g.rules);
    // Every alert of rules.yml is loaded (counted from the file, so a rule added or removed is no edit here).
    const shipped = (await readFile(RULES, 'utf8')).match(/^\s+- alert:/gm)?.length;
    assert.equal(rules.length, shipped);
    assert.deepEqual(
      rules.filter((r) => r.health !== 'ok').map((r) => `${r.name}: ${r.health} ${r.lastError ?? ''}`),
      [],
    );
  });

  it('every metric the rules and the dashboard query is on the worker’s page', async () => {
    const page = await (await fetch(metricsUrl)).text();
    // Sampled names, and the families the page declares (a labelled counter such as
    // scrapeflow_alerts_total has no sample before its first increment).
    const exported = new Set([...page.matchAll(/^([a-zA-Z_:][\w:]*)[{ ]/gm)].map((m) => m[1]!));
    for (const [, name, type] of page.matchAll(/^# TYPE (\S+) (\S+)$/gm))
      for (const suffix of type === 'histogram' ? ['_bucket', '_sum', '_count'] : [''])
        exported.add(`${name!}${suffix}`);
    // `up` is Prometheus's own, per target.
    const missing = (await shippedExpressions()).flatMap(({ where, expr }) =>
      metricNames(expr)
        .filter((name) => name !== 'up' && !exported.has(name))
        .map((name) => `${name} (${where})`),
    );
    assert.deepEqual(missing, []);
  });
});

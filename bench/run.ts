/**
 * `npm run bench`: runs each benchmark in sequence (each compares against a baseline measured in the
 * same run), writes bench/results/<name>.json and prints one JSON line each (`bench <name>: {...}`).
 * `npm run bench -- throughput render` runs only the named ones; `scale` (tens of minutes) runs only
 * when named, or by itself with `npm run bench:scale`; so does `monitor` (a 100,000-URL run, twice).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import * as accounts from './accounts.js';
import * as ceiling from './ceiling.js';
import * as cluster from './cluster.js';
import * as cost from './cost.js';
import * as goodput from './goodput.js';
import * as history from './history.js';
import * as browser from './browser.js';
import * as localApiFast from './local-api-fast.js';
import * as monitor from './monitor.js';
import * as plan from './plan.js';
import * as priority from './priority.js';
import * as render from './render.js';
import * as scale from './scale.js';
import * as throughput from './throughput.js';
import * as webhooks from './webhooks.js';

interface Benchmark {
  name: string;
  run(): Promise<Record<string, unknown>>;
}

const BENCHMARKS: Benchmark[] = [
  throughput,
  plan,
  accounts,
  goodput,
  ceiling,
  cost,
  render,
  localApiFast,
  browser,
  cluster,
  priority,
  history,
  webhooks,
];
/** Run only when named. */
const ON_REQUEST: Benchmark[] = [scale, monitor];

async function main(): Promise<void> {
  // Workers in this process (the ceiling's no-op floors) log warnings to stderr: stdout carries only
  // one JSON line per benchmark.
  Runtime.install({
    logger: new DefaultLogger('WARN', (entry) => process.stderr.write(`${entry.level} ${entry.message}\n`)),
  });
  const wanted = process.argv.slice(2);
  const all = [...BENCHMARKS, ...ON_REQUEST];
  const unknown = wanted.filter((w) => !all.some((b) => b.name === w));
  if (unknown.length)
    throw new Error(`no benchmark named ${unknown.join(', ')}; have ${all.map((b) => b.name).join(', ')}`);
  const selected = wanted.length ? all.filter((b) => wanted.includes(b.name)) : BENCHMARKS;
  const dir = new URL('../../bench/results/', import.meta.url);
  await mkdir(dir, { recursive: true });
  for (const bench of selected) {
    const started = new Date().toISOString();
    const result = await bench.run();
    const record = {
      name: bench.name,
      started,
      node: process.version,
      cpus: (await import('node:os')).cpus().length,
      result,
    };
    await writeFile(new URL(`${bench.name}.json`, dir), JSON.stringify(record, null, 2) + '\n');
    process.stdout.write(`bench ${bench.name}: ${JSON.stringify(result)}\n`);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});

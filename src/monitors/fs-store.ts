/**
 * Monitors on the filesystem store, under `<data dir>/monitors/<name>/` (0700 directories, 0600 files):
 * `spec.json` (atomic writes: tmp + rename), `runs/<batchId>.json`, and `obs/<batchId>.jsonl`, one
 * observation a line, appended. A rewrite of an observation appends it again and readers keep the
 * last line per URL, so change tracking that starts over after a crash yields the same run; a line cut
 * by a kill mid-append is skipped. Reads go one run file at a time (a run's URLs in memory, not a
 * monitor's history).
 */
import { randomUUID } from 'node:crypto';
import { appendFile, mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { MonitorStore, ObservationFilter } from './store-types.js';
import {
  MONITOR_NAME_PATTERN,
  MONITOR_RUN_ID_PATTERN,
  noChangeCounts,
  type MonitorRun,
  type MonitorSpec,
  type Observation,
} from './types.js';

const PRIVATE_DIR = { recursive: true, mode: 0o700 } as const;
const PRIVATE_FILE = { mode: 0o600 } as const;

async function atomicWrite(path: string, data: string): Promise<void> {
  const tmp = `${path}.${randomUUID()}.tmp`;
  await writeFile(tmp, data, PRIVATE_FILE);
  await rename(tmp, path);
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

async function namesIn(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

function parseLine(line: string): Observation | undefined {
  try {
    return JSON.parse(line) as Observation;
  } catch {
    return undefined;
  }
}

const byUrl = (a: Observation, b: Observation) => (a.url < b.url ? -1 : a.url > b.url ? 1 : 0);

export class FsMonitorStore implements MonitorStore {
  constructor(readonly dir: string) {}

  private path(name: string, ...rest: string[]): string {
    if (!MONITOR_NAME_PATTERN.test(name)) throw new Error(`invalid monitor name ${JSON.stringify(name)}`);
    return join(this.dir, name, ...rest);
  }

  private runFile(name: string, batchId: string, kind: 'runs' | 'obs'): string {
    if (!MONITOR_RUN_ID_PATTERN.test(batchId)) throw new Error(`invalid run id ${JSON.stringify(batchId)}`);
    return this.path(name, kind, `${batchId}.${kind === 'runs' ? 'json' : 'jsonl'}`);
  }

  async create(spec: MonitorSpec): Promise<boolean> {
    await mkdir(this.dir, PRIVATE_DIR);
    try {
      // The directory is the name's claim: mkdir is atomic and fails when another creator won.
      await mkdir(this.path(spec.name), { mode: 0o700 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
        if ((await this.get(spec.name)) !== undefined) return false;
      } else throw err;
    }
    await this.put(spec);
    return true;
  }

  async put(spec: MonitorSpec): Promise<void> {
    await mkdir(this.path(spec.name), PRIVATE_DIR);
    await atomicWrite(this.path(spec.name, 'spec.json'), JSON.stringify(spec) + '\n');
  }

  async get(name: string): Promise<MonitorSpec | undefined> {
    const raw = await readIfExists(this.path(name, 'spec.json'));
    return raw === undefined ? undefined : (JSON.parse(raw) as MonitorSpec);
  }

  async list(): Promise<MonitorSpec[]> {
    const out: MonitorSpec[] = [];
    for (const name of (await namesIn(this.dir)).sort()) {
      if (!MONITOR_NAME_PATTERN.test(name)) continue;
      const spec = await this.get(name);
      if (spec) out.push(spec);
    }
    return out;
  }

  async delete(name: string, purge: boolean): Promise<boolean> {
    const existed = (await this.get(name)) !== undefined;
    if (purge) await rm(this.path(name), { recursive: true, force: true });
    else await rm(this.path(name, 'spec.json'), { force: true });
    return existed;
  }

  async putRun(run: MonitorRun): Promise<void> {
    await mkdir(this.path(run.monitor, 'runs'), PRIVATE_DIR);
    await atomicWrite(this.runFile(run.monitor, run.batchId, 'runs'), JSON.stringify(run) + '\n');
  }

  async getRun(monitor: string, batchId: string): Promise<MonitorRun | undefined> {
    const raw = await readIfExists(this.runFile(monitor, batchId, 'runs'));
    return raw === undefined ? undefined : (JSON.parse(raw) as MonitorRun);
  }

  async listRuns(monitor: string, limit = 1000): Promise<MonitorRun[]> {
    const runs: MonitorRun[] = [];
    for (const file of await namesIn(this.path(monitor, 'runs'))) {
      if (!file.endsWith('.json')) continue;
      const raw = await readIfExists(join(this.path(monitor, 'runs'), file));
      if (raw) runs.push(JSON.parse(raw) as MonitorRun);
    }
    return runs.sort((a, b) => b.scheduledAt.localeCompare(a.scheduledAt)).slice(0, limit);
  }

  async previousRun(monitor: string, before: string): Promise<MonitorRun | undefined> {
    const at = Date.parse(before);
    return (await this.listRuns(monitor, Number.MAX_SAFE_INTEGER)).find(
      (r) => r.state === 'tracked' && Date.parse(r.scheduledAt) < at,
    );
  }

  async putObservations(rows: readonly Observation[]): Promise<void> {
    const byRun = new Map<string, Observation[]>();
    for (const row of rows) {
      const key = `${row.monitor}\n${row.batchId}`;
      byRun.set(key, [...(byRun.get(key) ?? []), row]);
    }
    for (const group of byRun.values()) {
      const first = group[0];
      if (!first) continue;
      await mkdir(this.path(first.monitor, 'obs'), PRIVATE_DIR);
      const text = group.map((r) => JSON.stringify(r)).join('\n') + '\n';
      await appendFile(this.runFile(first.monitor, first.batchId, 'obs'), text, PRIVATE_FILE);
    }
  }

  /** A run's observations by URL (the last line of each URL wins). */
  private async run(monitor: string, batchId: string): Promise<Map<string, Observation>> {
    const out = new Map<string, Observation>();
    const raw = await readIfExists(this.runFile(monitor, batchId, 'obs'));
    for (const line of raw?.split('\n') ?? []) {
      const row = line && parseLine(line);
      if (row) out.set(row.url, row);
    }
    return out;
  }

  private async runIds(monitor: string): Promise<string[]> {
    return (await this.listRuns(monitor, Number.MAX_SAFE_INTEGER)).map((r) => r.batchId).reverse();
  }

  async getObservations(monitor: string, batchId: string, urls: readonly string[]) {
    const all = await this.run(monitor, batchId);
    return new Map(urls.flatMap((u) => (all.has(u) ? [[u, all.get(u) as Observation] as const] : [])));
  }

  async *runObservations(monitor: string, batchId: string, filter?: ObservationFilter) {
    const rows = [...(await this.run(monitor, batchId)).values()].sort(byUrl);
    for (const row of rows) if (!filter?.statuses || filter.statuses.includes(row.status)) yield row;
  }

  async *missingFrom(monitor: string, prevBatchId: string, batchId: string) {
    const current = await this.run(monitor, batchId);
    for await (const row of this.runObservations(monitor, prevBatchId))
      if (row.status !== 'removed' && !current.has(row.url)) yield row;
  }

  async *history(monitor: string, url: string) {
    for (const batchId of await this.runIds(monitor)) {
      const row = (await this.run(monitor, batchId)).get(url);
      if (row) yield row;
    }
  }

  async *since(monitor: string, since: string, filter?: ObservationFilter) {
    const at = Date.parse(since);
    for (const run of (await this.listRuns(monitor, Number.MAX_SAFE_INTEGER)).reverse()) {
      if (Date.parse(run.scheduledAt) < at) continue;
      yield* this.runObservations(monitor, run.batchId, filter);
    }
  }

  async runCounts(monitor: string, batchId: string) {
    const counts = noChangeCounts();
    let credits = 0;
    for (const row of (await this.run(monitor, batchId)).values()) {
      counts[row.status] += 1;
      credits += row.charged;
    }
    return { counts, credits };
  }

  async costsByUrl(monitor: string): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for (const batchId of await this.runIds(monitor))
      for (const row of (await this.run(monitor, batchId)).values())
        out.set(row.url, (out.get(row.url) ?? 0) + row.charged);
    return new Map([...out].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }

  async prune(monitor: string, olderThan: Date): Promise<number> {
    let removed = 0;
    for (const run of await this.listRuns(monitor, Number.MAX_SAFE_INTEGER)) {
      if (Date.parse(run.scheduledAt) >= olderThan.getTime()) continue;
      removed += (await this.run(monitor, run.batchId)).size;
      await rm(this.runFile(monitor, run.batchId, 'obs'), { force: true });
      await rm(this.runFile(monitor, run.batchId, 'runs'), { force: true });
    }
    return removed;
  }
}

/**
 * The filesystem store, the embedded default: one directory per batch under the data directory.
 *   inputs/<batch>/page-<n>.json   input items, PAGE_SIZE per file (read back a page at a time)
 *   inputs/<batch>/count           how many items the input holds
 *   inputs/.staging-<batch>-<uuid>/ an input being written, renamed to inputs/<batch> once complete
 *   results/<batch>/<index>.json   one terminal record per URL (written atomically: tmp + rename)
 *   content/<batch>/<index>.html   page bodies (retention: `pruneContent` deletes them by mtime)
 * Every write is atomic, so a worker killed mid-write leaves the old file or the new one, never half.
 */
import { chmod, mkdir, opendir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { BatchOptions } from '../batch/options.js';
import {
  checkVersion,
  InputExistsError,
  matchesFilter,
  STORED_BATCH_ID_PATTERN,
  type ResultFilter,
  type ResultRecord,
  type ResultStore,
  type UrlItem,
} from './types.js';
import { StoreHostMismatchError } from '../errors.js';

const PAGE_SIZE = 1000;
/**
 * The store holds page bodies, screenshots and `fill` step values: its directories and files are the
 * owner's alone (a mode the umask can only narrow).
 */
const PRIVATE_DIR = { recursive: true, mode: 0o700 } as const;
const PRIVATE_FILE = { mode: 0o600 } as const;
const CONTENT_PREFIX = 'fs:';

function checkBatchId(batchId: string): string {
  if (!STORED_BATCH_ID_PATTERN.test(batchId)) throw new Error(`invalid batch id ${JSON.stringify(batchId)}`);
  return batchId;
}

async function atomicWrite(path: string, data: string): Promise<void> {
  const tmp = `${path}.${randomUUID()}.tmp`;
  await writeFile(tmp, data, PRIVATE_FILE);
  await rename(tmp, path);
}

/** The names in a directory; none when it does not exist. */
async function namesIn(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Marker file naming the host a filesystem store belongs to. */
const OWNER_FILE = 'store.json';

export class FsStore implements ResultStore {
  readonly id: string;

  constructor(readonly dataDir: string) {
    this.id = `fs:${hostname()}:${resolve(dataDir)}`;
  }

  /**
   * Opens the store for a process of this host: the first opener records its host name in the data
   * directory, and a process on any other host is refused (the filesystem store serves one machine).
   */
  static async open(dataDir: string): Promise<FsStore> {
    await mkdir(dataDir, PRIVATE_DIR);
    // mkdir's mode applies only to a directory it creates: a store made before it was private becomes so.
    await chmod(dataDir, 0o700).catch(() => undefined);
    const marker = join(dataDir, OWNER_FILE);
    const here = hostname();
    const raw = await readIfExists(marker);
    const owner = raw === undefined ? undefined : (JSON.parse(raw) as { host?: string }).host;
    if (owner === undefined) {
      await atomicWrite(marker, JSON.stringify({ host: here, createdAt: new Date().toISOString() }) + '\n');
    } else if (owner !== here) {
      throw new StoreHostMismatchError(
        `the filesystem store at ${resolve(dataDir)} belongs to host ${JSON.stringify(owner)}, and this is ` +
          `host ${JSON.stringify(here)}. A filesystem store serves one machine: to run workers on several ` +
          'hosts, point every worker, the CLI and the service at one PostgreSQL store with SCRAPEFLOW_DATABASE_URL.',
      );
    }
    return new FsStore(dataDir);
  }

  private dir(kind: 'inputs' | 'results' | 'content' | 'charges' | 'options', batchId: string): string {
    return join(this.dataDir, kind, checkBatchId(batchId));
  }

  async putInput(
    batchId: string,
    items: AsyncIterable<Omit<UrlItem, 'index'>> | Iterable<Omit<UrlItem, 'index'>>,
  ): Promise<number> {
    const dir = this.dir('inputs', batchId);
    // Refused early, before the stream is read; the rename below is what holds against a race.
    if ((await namesIn(dir)).length > 0) throw new InputExistsError(batchId);
    // Staged beside the batches (same filesystem, so the rename is atomic); the leading dot keeps a
    // staging directory from ever being taken for a batch.
    const staging = join(this.dataDir, 'inputs', `.staging-${batchId}-${randomUUID()}`);
    await mkdir(staging, PRIVATE_DIR);
    try {
      let page: UrlItem[] = [];
      let count = 0;
      const flush = async () => {
        await writeFile(
          join(staging, `page-${Math.floor((count - 1) / PAGE_SIZE)}.json`),
          JSON.stringify(page),
          PRIVATE_FILE,
        );
        page = [];
      };
      for await (const item of items) {
        page.push({
          index: count,
          url: item.url,
          ...(item.tags?.length ? { tags: item.tags } : {}),
          ...(item.redrivenFrom ? { redrivenFrom: item.redrivenFrom } : {}),
          ...(item.steps ? { steps: item.steps } : {}),
          ...(item.duplicateOf !== undefined ? { duplicateOf: item.duplicateOf } : {}),
        });
        count += 1;
        if (page.length === PAGE_SIZE) await flush();
      }
      if (count === 0) return 0;
      if (page.length) await flush();
      await writeFile(join(staging, 'count'), String(count), PRIVATE_FILE);
      // The whole input appears at once. rename(2) refuses a non-empty target, so of two writers racing
      // for one id exactly one publishes (an empty directory left by nobody's input is replaced).
      try {
        await rename(staging, dir);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOTEMPTY' || code === 'EEXIST') throw new InputExistsError(batchId);
        throw err;
      }
      return count;
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
  }

  async deleteInput(batchId: string): Promise<void> {
    const dir = this.dir('inputs', batchId);
    // Moved aside first, so readers see the whole input or none of it.
    const doomed = join(this.dataDir, 'inputs', `.deleted-${batchId}-${randomUUID()}`);
    try {
      await rename(dir, doomed);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    await rm(doomed, { recursive: true, force: true });
  }

  async readInput(batchId: string, offset: number, limit: number): Promise<UrlItem[]> {
    const dir = this.dir('inputs', batchId);
    const out: UrlItem[] = [];
    let position = offset;
    while (out.length < limit) {
      const raw = await readIfExists(join(dir, `page-${Math.floor(position / PAGE_SIZE)}.json`));
      if (raw === undefined) break;
      const page = JSON.parse(raw) as UrlItem[];
      const slice = page.slice(position % PAGE_SIZE, (position % PAGE_SIZE) + (limit - out.length));
      if (slice.length === 0) break;
      out.push(...slice);
      position += slice.length;
    }
    return out;
  }

  async inputCount(batchId: string): Promise<number | undefined> {
    const raw = await readIfExists(join(this.dir('inputs', batchId), 'count'));
    return raw === undefined ? undefined : Number(raw);
  }

  async putContent(batchId: string, index: number, content: string): Promise<string> {
    const dir = this.dir('content', batchId);
    await mkdir(dir, PRIVATE_DIR);
    await atomicWrite(join(dir, `${index}.html`), content);
    return `${CONTENT_PREFIX}${batchId}/${index}`;
  }

  async getContent(ref: string): Promise<string | undefined> {
    if (!ref.startsWith(CONTENT_PREFIX)) throw new Error(`not a filesystem content reference: ${ref}`);
    const [batchId = '', index = ''] = ref.slice(CONTENT_PREFIX.length).split('/');
    if (!/^\d+$/.test(index)) throw new Error(`bad content reference: ${ref}`);
    return readIfExists(join(this.dir('content', batchId), `${index}.html`));
  }

  async noteCharge(batchId: string, index: number, tryId: string, credits: number): Promise<void> {
    // One file per try (named by its id) makes a repeated note a rewrite, never a second charge.
    const dir = join(this.dir('charges', batchId), String(index));
    await mkdir(dir, PRIVATE_DIR);
    await atomicWrite(join(dir, encodeURIComponent(tryId)), String(credits));
  }

  async notedCharges(batchId: string, index: number): Promise<number> {
    const dir = join(this.dir('charges', batchId), String(index));
    let total = 0;
    for (const name of await namesIn(dir)) {
      // Skip an atomic write's temporary file (a writer killed mid-write leaves one).
      if (name.endsWith('.tmp')) continue;
      total += Number((await readIfExists(join(dir, name))) ?? 0);
    }
    return total;
  }

  async putOptions(batchId: string, version: string, options: BatchOptions): Promise<void> {
    const dir = this.dir('options', batchId);
    await mkdir(dir, PRIVATE_DIR);
    await atomicWrite(join(dir, `${checkVersion(version)}.json`), JSON.stringify(options));
  }

  async getOptions(batchId: string, version: string): Promise<BatchOptions | undefined> {
    const raw = await readIfExists(join(this.dir('options', batchId), `${checkVersion(version)}.json`));
    return raw === undefined ? undefined : (JSON.parse(raw) as BatchOptions);
  }

  async putResult(record: ResultRecord): Promise<void> {
    const dir = this.dir('results', record.batchId);
    await mkdir(dir, PRIVATE_DIR);
    await atomicWrite(join(dir, `${record.index}.json`), JSON.stringify(record));
  }

  async getResult(batchId: string, index: number): Promise<ResultRecord | undefined> {
    const raw = await readIfExists(join(this.dir('results', batchId), `${index}.json`));
    return raw === undefined ? undefined : (JSON.parse(raw) as ResultRecord);
  }

  async *listResults(batchId: string, filter?: ResultFilter): AsyncIterable<ResultRecord> {
    const dir = this.dir('results', batchId);
    // Only the index numbers are held in memory; records are read one at a time.
    const indexes = (await namesIn(dir))
      .filter((n) => /^\d+\.json$/.test(n))
      .map((n) => Number(n.slice(0, -5)))
      .sort((a, b) => a - b);
    for (const index of indexes) {
      const record = await this.getResult(batchId, index);
      if (record && matchesFilter(record, filter)) yield record;
    }
  }

  async pruneContent(olderThan: Date): Promise<number> {
    const root = join(this.dataDir, 'content');
    let removed = 0;
    for (const batch of await namesIn(root)) {
      if (!STORED_BATCH_ID_PATTERN.test(batch)) continue;
      // opendir streams the entries: a batch with 100,000 bodies is not listed into memory at once.
      for await (const entry of await opendir(join(root, batch))) {
        const isBody = /^\d+\.html$/.test(entry.name);
        // Temporary files left by a writer killed mid-write go too, uncounted.
        if (!entry.isFile() || (!isBody && !entry.name.endsWith('.tmp'))) continue;
        const path = join(root, batch, entry.name);
        const info = await stat(path).catch(() => undefined);
        if (!info || info.mtimeMs >= olderThan.getTime()) continue;
        await rm(path, { force: true });
        if (isBody) removed += 1;
      }
    }
    await this.removeAbandonedInputs(olderThan);
    return removed;
  }

  /**
   * Input directories that a writer killed mid-upload (`.staging-*`) or mid-delete (`.deleted-*`) left
   * behind: never read as a batch, so they are removed, uncounted, once older than the cutoff (a younger
   * one may belong to an upload still running).
   */
  private async removeAbandonedInputs(olderThan: Date): Promise<void> {
    const root = join(this.dataDir, 'inputs');
    for (const name of await namesIn(root)) {
      if (!name.startsWith('.staging-') && !name.startsWith('.deleted-')) continue;
      const path = join(root, name);
      const info = await stat(path).catch(() => undefined);
      if (info && info.mtimeMs < olderThan.getTime()) await rm(path, { recursive: true, force: true });
    }
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

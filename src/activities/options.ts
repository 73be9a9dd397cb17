/**
 * A batch's options by version: the batch stores them once (`storeOptions`, under a hash of their
 * content, so any change of the options is a new version), and a URL activity, which receives only the
 * version, reads them through a per-worker cache: one store read per batch, version and worker process.
 */
import { createHash } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/activity';
import type { BatchOptions } from '../batch/options.js';
import type { ResultStore } from '../store/types.js';
import type { UrlTask, UrlTaskInput } from '../workflows/types.js';

/** Versions a worker keeps (a few per batch running on it); the oldest read goes first. */
const CACHED_VERSIONS = 256;

/** The version of a batch's options: the first 16 hex digits of the SHA-256 of their JSON. */
export const optionsVersionOf = (options: BatchOptions): string =>
  createHash('sha256').update(JSON.stringify(options)).digest('hex').slice(0, 16);

export class OptionsCache {
  private readonly cached = new Map<string, Promise<BatchOptions>>();

  constructor(
    private readonly store: Pick<ResultStore, 'id' | 'getOptions'>,
    private readonly max = CACHED_VERSIONS,
  ) {}

  /** The task with its batch's options, from the input's own options or the stored version. */
  async resolve<T extends UrlTaskInput>(input: T): Promise<Omit<T, 'optionsVersion'> & UrlTask> {
    if (!('optionsVersion' in input)) return input as Omit<T, 'optionsVersion'> & UrlTask;
    const { optionsVersion, ...rest } = input;
    return { ...rest, options: await this.options(input.batchId, optionsVersion) };
  }

  private options(batchId: string, version: string): Promise<BatchOptions> {
    const key = `${batchId}@${version}`;
    let options = this.cached.get(key);
    if (!options) {
      options = this.read(batchId, version);
      this.cached.set(key, options);
      // A failed read is not remembered: the next try reads again.
      const read = options;
      options.catch(() => {
        if (this.cached.get(key) === read) this.cached.delete(key);
      });
      if (this.cached.size > this.max) this.cached.delete(this.cached.keys().next().value!);
    }
    return options;
  }

  private async read(batchId: string, version: string): Promise<BatchOptions> {
    const options = await this.store.getOptions(batchId, version);
    // Retryable: a worker with another store than the batch's cannot see them, another worker may.
    if (!options)
      throw ApplicationFailure.retryable(
        `the options of batch ${batchId} (version ${version}) are not in this worker's store (${this.store.id})`,
        'OptionsNotFound',
      );
    return options;
  }
}

/**
 * Starting and steering batches: shared by the CLI, the HTTP service and scripts.
 */
import { randomBytes } from 'node:crypto';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { parseBatchOptions, type BatchOptionsInput } from '../batch/options.js';
import { storeInput, type UrlItemInput } from '../batch/input.js';
import { storeSitemapInput, type SitemapReader, type SitemapSource } from '../sitemaps/index.js';
import { canAct, type Principal } from '../auth/principal.js';
import { DEFAULT_ACCOUNT, isKnownLabel, planOfLabel, type AccountsFile } from '../config/accounts.js';
import { MAX_BATCH_ID_LENGTH, USER_BATCH_ID_PATTERN, type ResultStore } from '../store/types.js';
import { AccountAttr, BatchIdAttr, BatchStatusAttr } from '../temporal/search-attributes.js';
import { notSetUpCause, requireSetup } from '../temporal/setup.js';
import { clientAddress } from './temporal.js';
import { cancelSignal, pauseSignal, resumeSignal } from '../workflows/definitions.js';
import { taskPriority } from '../workflows/priority.js';
import { TASK_QUEUES, type PauseReason } from '../workflows/types.js';
import {
  AccountForbiddenError,
  BatchEndedError,
  BatchIdTakenError,
  BatchNotFoundError,
  ValidationError,
  type BatchAction,
} from '../errors.js';

export type { UrlItemInput } from '../batch/input.js';

interface StartBatchBase {
  /** @default a generated `batch-<time>-<random>` */
  batchId?: string;
  options?: BatchOptionsInput;
  /**
   * The plan's concurrency of the batch's account as this client knows it (OMNISCRAPE_PLAN_CONCURRENCY):
   * an unset `options.concurrency` is derived from it (`parseBatchOptions`). @default DEFAULT_PLAN (src/batch/defaults.ts)
   */
  plan?: number;
}

/** What a batch starts with: its URLs, or a sitemap source read into its input as it starts. */
export type StartBatchRequest = StartBatchBase &
  (
    | {
        /** The URLs; an item's `steps` (browser steps for that URL alone) override the batch's `steps`. */
        urls: Iterable<UrlItemInput> | AsyncIterable<UrlItemInput>;
      }
    | {
        /** The sitemaps whose page URLs are the input (`storeSitemapInput`), read by `reader`. */
        sitemap: { reader: SitemapReader; source: SitemapSource };
      }
  );

/** What the starting process knows of the deployment. */
export interface StartContext {
  /**
   * The accounts file (SCRAPEFLOW_ACCOUNTS_FILE), when this process has it: a batch under a label it does
   * not list is refused before anything is stored, since no worker would have a key for it.
   */
  accounts?: AccountsFile;
  /** Who starts it (the service's request): a start on an account it may not act on is refused. */
  principal?: Principal;
}

/** Refuses an account label the accounts file does not list (`ValidationError` on `account`). */
export function checkAccount(account: string, file: AccountsFile | undefined): void {
  if (!file || isKnownLabel(file, account)) return;
  const known = [DEFAULT_ACCOUNT, ...Object.keys(file.entries)].join(', ');
  throw new ValidationError(
    `account: ${JSON.stringify(account)} is not an account of SCRAPEFLOW_ACCOUNTS_FILE (${file.path}); its accounts: ${known}`,
    'account',
  );
}

export function newBatchId(): string {
  return `batch-${new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '')}-${randomBytes(3).toString('hex')}`;
}

/**
 * Starts a batch. Its id names one batch forever: an id that is taken (a workflow ran or runs under it
 * within the namespace's retention, or the store holds input for it) is refused with
 * `BatchIdTakenError` before anything is written. The namespace's setup is checked first too
 * (`TemporalNotSetUpError`). The input is stored create-only; when the workflow start then fails, the
 * stored input is removed again, so a refused start leaves nothing behind.
 */
export async function startBatch(
  client: Client,
  store: ResultStore,
  request: StartBatchRequest,
  context: StartContext = {},
) {
  const label = request.options?.account ?? DEFAULT_ACCOUNT;
  // An account of the accounts file has its own plan there; `default`'s is the caller's.
  const plan = (context.accounts && planOfLabel(context.accounts, label)) ?? request.plan;
  const options = parseBatchOptions(request.options, { plan });
  // Before the label check, whose message lists the deployment's accounts.
  if (context.principal && !canAct(context.principal, options.account))
    throw new AccountForbiddenError(options.account, context.principal.name);
  checkAccount(options.account, context.accounts);
  // Search attributes are never encrypted: with an encrypting codec, URLs stay out of them.
  if (client.options.loadedDataConverter.payloadCodecs.length > 0) options.searchableUrls = false;
  options.storeId = store.id;
  // Scopes the URLs' OmniScrape idempotency keys to this one start (see src/activities/scrape.ts).
  options.idempotencyScope = randomBytes(16).toString('hex');
  const batchId = request.batchId ?? newBatchId();
  if (!USER_BATCH_ID_PATTERN.test(batchId)) {
    throw new ValidationError(
      `batchId: ${JSON.stringify(batchId.slice(0, 200))} must be 1 to ${MAX_BATCH_ID_LENGTH} letters, digits, ` +
        '".", "_" or "-", starting with a letter or digit',
      'batchId',
    );
  }
  const { namespace } = client.options;
  const address = clientAddress(client);
  await requireSetup(client.connection, namespace, address);
  await requireFreeId(client, store, batchId);
  const dedupe = options.dedupe !== false;
  const { total, duplicates } =
    'sitemap' in request
      ? await storeSitemapInput(store, batchId, request.sitemap.reader, request.sitemap.source, { dedupe })
      : await storeInput(store, batchId, request.urls, { dedupe });
  if (total === 0 && 'sitemap' in request)
    throw new ValidationError(
      'sitemap: the sitemaps list no URLs (after --include/--exclude, if given)',
      'sitemap',
    );
  if (total === 0) throw new ValidationError('urls: the batch has no URLs', 'urls');
  try {
    const handle = await client.workflow.start('batchWorkflow', {
      workflowId: batchId,
      taskQueue: TASK_QUEUES.workflows,
      args: [{ batchId, options, total, ...(duplicates ? { duplicates } : {}) }],
      // Temporal refuses the id too, for a start that raced past `requireFreeId`.
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
      workflowIdConflictPolicy: 'FAIL',
      // The batch workflow's own tasks; its pages and activities carry the same (src/workflows).
      priority: taskPriority(options),
      typedSearchAttributes: [
        { key: BatchIdAttr, value: batchId },
        { key: BatchStatusAttr, value: 'running' },
        { key: AccountAttr, value: options.account },
      ],
    });
    return { batchId, total, handle };
  } catch (err) {
    // The input stored above is this start's own (putInput is create-only): nothing may stay behind.
    await store.deleteInput(batchId);
    if ((err as Error).name === 'WorkflowExecutionAlreadyStartedError')
      throw new BatchIdTakenError(batchId, (await workflowState(client, batchId)) ?? 'running');
    throw notSetUpCause(err, namespace, address) ?? err;
  }
}

/** The state of the latest workflow run under `workflowId` (`running`, `completed`, …), if there is one. */
async function workflowState(client: Client, workflowId: string): Promise<string | undefined> {
  try {
    const { status } = await client.workflow.getHandle(workflowId).describe();
    return status.name.toLowerCase();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
}

async function requireFreeId(client: Client, store: ResultStore, batchId: string): Promise<void> {
  const state = await workflowState(client, batchId);
  if (state !== undefined) throw new BatchIdTakenError(batchId, state);
  if ((await store.inputCount(batchId)) !== undefined) throw new BatchIdTakenError(batchId, 'stored input');
}

/**
 * The account a batch belongs to: the `ScrapeflowAccount` its workflow carries (a batch without one is
 * `default`'s); undefined when no workflow runs or ran under the id (none, or past the retention).
 */
export async function batchAccount(client: Client, batchId: string): Promise<string | undefined> {
  try {
    const { typedSearchAttributes } = await client.workflow.getHandle(batchId).describe();
    return typedSearchAttributes.get(AccountAttr) ?? DEFAULT_ACCOUNT;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
}

/** Runs `work`, turning Temporal's not-found into a `BatchNotFoundError` naming the batch. */
export async function withBatch<T>(batchId: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError)
      throw new BatchNotFoundError(`no batch ${JSON.stringify(batchId)}`);
    throw err;
  }
}

/** Fails with `BatchEndedError` when the batch's workflow has closed (a signal would not reach it). */
export async function requireRunning(client: Client, batchId: string, action: BatchAction): Promise<void> {
  const { status } = await withBatch(batchId, () => client.workflow.getHandle(batchId).describe());
  if (status.name !== 'RUNNING') throw new BatchEndedError(batchId, status.name.toLowerCase(), action);
}

export function pauseBatch(client: Client, batchId: string, reason: PauseReason = 'manual') {
  return withBatch(batchId, () => client.workflow.getHandle(batchId).signal(pauseSignal, { reason }));
}
/** Resumes a batch; `maxCredits` raises (or sets) its credit cap first. */
export function resumeBatch(client: Client, batchId: string, options: { maxCredits?: number } = {}) {
  return withBatch(batchId, () =>
    client.workflow
      .getHandle(batchId)
      .signal(resumeSignal, options.maxCredits !== undefined ? { maxCredits: options.maxCredits } : {}),
  );
}
export function cancelBatch(client: Client, batchId: string) {
  return withBatch(batchId, () => client.workflow.getHandle(batchId).signal(cancelSignal));
}

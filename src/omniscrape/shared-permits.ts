/**
 * Where a worker role's permits live: the plan's (`scrape` role, one per call) and the BaaS session
 * limit's (`browser` role, one per session), each held per account across every worker of the role.
 *
 * - With PostgreSQL (SCRAPEFLOW_DATABASE_URL), leases in it (pg-permits.ts), shared by every worker on
 *   every host; a dead worker's expire within seconds.
 * - On the filesystem store, a semaphore in this process (permits.ts), which holds a limit only while
 *   this process is the role's one worker on the store. So the worker first takes the store's lock of
 *   the role (src/store/fs-lock.ts; a dead holder's, SIGKILL included, is reclaimed at once), and a
 *   second worker of the role on the same store is refused with `StoreInUseError` instead of doubling
 *   every account's limit. One worker keeps every limit busy when its slots exceed the limits (the
 *   scrape role's default to twice the plans), so a second one on the same host would add nothing
 *   that a file lock per permit, taken and reclaimed at every call, would be worth.
 */
import { resolve } from 'node:path';
import type { Accounts } from '../config/accounts.js';
import { StoreInUseError } from '../errors.js';
import { FsStore } from '../store/fs-store.js';
import { takeFsLock } from '../store/fs-lock.js';
import type { ResultStore } from '../store/types.js';
import { AccountPermits } from './accounts.js';
import { LocalPermits, type PermitResource } from './permits.js';
import { PgPermits } from './pg-permits.js';

/** The worker role that takes each resource's permits, and what its limit is called. */
const ROLE: Record<PermitResource, { role: string; limit: string }> = {
  plan: { role: 'scrape', limit: "the accounts' plans" },
  browser: { role: 'browser', limit: "the accounts' BaaS session limits" },
};

export interface SharedPermitsOptions {
  resource: PermitResource;
  accounts: Accounts;
  /** The PostgreSQL URL (SCRAPEFLOW_DATABASE_URL); unset on the filesystem store. */
  databaseUrl?: string | undefined;
  /** The process's store: on a filesystem store, its lock of the role is taken. */
  store: ResultStore;
  /** Told about database errors the leases survive. */
  onError: (err: Error, what: string) => void;
}

export interface SharedPermits {
  /** Permits by account label, at each account's limit of the resource. */
  permits: AccountPermits;
  /** Where they are held, for the worker's start line. */
  where: 'postgres' | 'process';
  /** Gives back what the permits hold, then the store's lock. */
  close(): Promise<void>;
}

/** Opens the resource's permits (on a filesystem store, once its lock of the role is taken). */
export async function openSharedPermits(options: SharedPermitsOptions): Promise<SharedPermits> {
  const { resource, accounts, databaseUrl } = options;
  const limit = (name: string) =>
    resource === 'plan' ? accounts.planOf(name) : accounts.browserSessionsOf(name);
  if (databaseUrl) {
    const leases = await PgPermits.open({
      connectionString: databaseUrl,
      limit,
      resource,
      onError: options.onError,
    });
    const permits = new AccountPermits(accounts, leases);
    return { permits, where: 'postgres', close: () => permits.close() };
  }
  const permits = new AccountPermits(accounts, new LocalPermits(limit, resource));
  const { store } = options;
  if (!(store instanceof FsStore)) return { permits, where: 'process', close: () => permits.close() };
  const { role } = ROLE[resource];
  const lock = await takeFsLock(store.dataDir, role);
  if (!lock.held)
    throw new StoreInUseError(
      `another ${role} worker (pid ${lock.holder.pid}, since ${lock.holder.since}) serves the filesystem ` +
        `store at ${resolve(store.dataDir)}, and two would each hold ${ROLE[resource].limit} in full: ` +
        `several ${role} workers need PostgreSQL (set SCRAPEFLOW_DATABASE_URL on every process)`,
      { role, pid: lock.holder.pid },
    );
  return {
    permits,
    where: 'process',
    close: async () => {
      await permits.close();
      await lock.release();
    },
  };
}

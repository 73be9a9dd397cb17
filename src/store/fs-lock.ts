/**
 * An exclusive lock on a filesystem store, held by one process for its lifetime: the file
 * `<dataDir>/locks/<name>.lock` names its holder (pid, the process's start time, host). The filesystem
 * store serves one host (store.json), so whether a holder lives is asked of this host's kernel, and a
 * process that died in any way, SIGKILL included, leaves a lock the next taker reclaims at once: its
 * pid is gone, a zombie, or another process's (the start time differs: a container restart reuses pids).
 *
 * Taking it is `link(2)` of a complete file of our own onto the lock's name, which fails when the name
 * exists, so two takers never both succeed. A stale lock is removed only by the taker that first
 * creates its marker `<name>.lock.stale-<holder's token>` (`link` again: one winner); every remover of
 * that holder's lock must win that marker first, so no taker can remove a lock that a faster taker put
 * in its place meanwhile. Markers are kept for `MARKER_TTL_MS`, far longer than a taker's steps.
 */
import { link, mkdir, readdir, readFile, stat, unlink, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';

/** What a lock file says about its holder. */
export interface LockHolder {
  pid: number;
  host: string;
  /** The process's start time in clock ticks after boot (Linux `/proc/<pid>/stat`), when known. */
  started?: string;
  /** When it took the lock (ISO 8601). */
  since: string;
  /** Tells this holding apart from any other, including a later one of the same pid. */
  token: string;
}

export type LockAttempt = { held: true; release(): Promise<void> } | { held: false; holder: LockHolder };

/** How long a stale lock's marker is kept: a taker stalled longer than this could remove a live lock. */
const MARKER_TTL_MS = 10 * 60_000;
const ATTEMPTS = 5;

/** Start time and state of a process from `/proc/<pid>/stat`; undefined where there is no /proc. */
function procStat(pid: number): { started: string; state: string } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // `pid (comm) state ppid …`: comm may hold spaces and parentheses, so fields count from the last ')'.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    const [state, started] = [fields[0], fields[19]];
    return state && started ? { state, started } : undefined;
  } catch {
    return undefined;
  }
}

/** Whether the process that wrote `holder` still runs on this host. */
export function holderAlive(holder: LockHolder): boolean {
  if (!Number.isInteger(holder.pid) || holder.pid <= 0) return false;
  if (holder.host !== hostname()) return true; // not this host's to judge (the store refuses other hosts)
  try {
    process.kill(holder.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    // EPERM: a process of another user has that pid; its start time below tells whether it is the holder.
  }
  const now = procStat(holder.pid);
  if (!now) return true; // no /proc: the pid alone says it
  if (now.state === 'Z' || now.state === 'X') return false;
  return holder.started === undefined || holder.started === now.started;
}

function parseHolder(text: string): LockHolder | undefined {
  try {
    const h = JSON.parse(text) as Partial<LockHolder>;
    return typeof h.pid === 'number' && typeof h.host === 'string' && typeof h.token === 'string'
      ? (h as LockHolder)
      : undefined;
  } catch {
    return undefined;
  }
}

function code(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException).code;
}

/** Reads the lock; undefined when it is gone, a holder nobody can be for an unreadable one. */
async function readHolder(path: string): Promise<LockHolder | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if (code(err) === 'ENOENT') return undefined;
    throw err;
  }
  // Nobody's (a file not written by this module): stale, under a token of its own content.
  const token = `unreadable-${createHash('sha256').update(text).digest('hex').slice(0, 16)}`;
  return parseHolder(text) ?? { pid: -1, host: hostname(), since: '', token };
}

/** Deletes stale locks' markers, and takers' files a crash left behind, older than `MARKER_TTL_MS`. */
async function pruneMarkers(dir: string, name: string): Promise<void> {
  for (const entry of await readdir(dir).catch(() => [])) {
    const leftover = entry.startsWith(`${name}.lock.`) && entry.endsWith('.tmp');
    if (!entry.startsWith(`${name}.lock.stale-`) && !leftover) continue;
    const path = join(dir, entry);
    const age = Date.now() - ((await stat(path).catch(() => undefined))?.mtimeMs ?? Date.now());
    if (age > MARKER_TTL_MS) await unlink(path).catch(() => undefined);
  }
}

/**
 * Takes the lock `name` of the store at `dataDir` for this process, reclaiming a dead holder's; or,
 * when a live process holds it, says which. `release` deletes the lock if it is still this holding's.
 */
export async function takeFsLock(dataDir: string, name: string): Promise<LockAttempt> {
  const dir = join(dataDir, 'locks');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, `${name}.lock`);
  const started = procStat(process.pid)?.started;
  const me: LockHolder = {
    pid: process.pid,
    host: hostname(),
    ...(started ? { started } : {}),
    since: new Date().toISOString(),
    token: randomBytes(8).toString('hex'),
  };
  const mine = `${path}.${me.token}.tmp`;
  await writeFile(mine, JSON.stringify(me) + '\n', { mode: 0o600, flag: 'wx' });
  try {
    for (let i = 0; i < ATTEMPTS; i += 1) {
      try {
        await link(mine, path);
        await pruneMarkers(dir, name);
        return { held: true, release: () => releaseIfMine(path, me.token) };
      } catch (err) {
        if (code(err) !== 'EEXIST') throw err;
      }
      const holder = await readHolder(path);
      if (!holder) continue; // released meanwhile
      if (holderAlive(holder)) return { held: false, holder };
      try {
        await link(path, `${path}.stale-${holder.token}`);
      } catch (err) {
        if (code(err) === 'EEXIST' || code(err) === 'ENOENT') continue; // another taker reclaims it
        throw err;
      }
      await unlink(path).catch((err: unknown) => {
        if (code(err) !== 'ENOENT') throw err;
      });
    }
    throw new Error(`could not take ${path}: other processes kept taking it (${ATTEMPTS} tries)`);
  } finally {
    await unlink(mine).catch(() => undefined);
  }
}

async function releaseIfMine(path: string, token: string): Promise<void> {
  const holder = await readHolder(path).catch(() => undefined);
  if (holder?.token === token) await unlink(path).catch(() => undefined);
}

/**
 * Webhooks in the filesystem store, under `<data dir>/webhooks/` (directories 0700, files 0600, each
 * written whole: a temporary file, then a rename or an exclusive link):
 *
 *   endpoints/<id>.json                       an endpoint, its secrets included (they must sign)
 *   subjects/<hash of subject>/<sequence>.json an event, numbered in its subject
 *   events/<hash of id>.json                  the same file (a hard link): the id's index
 *   deliveries/<endpoint>/<status>/<hash of event id>.json  one delivery and its attempts
 *
 * Writes of events and deliveries hold the store's `webhooks` lock (src/store/fs-lock.ts: one process
 * at a time, reclaimed at once from a dead one), so sequences are gap-free across the processes of a
 * host. An event is written in the order subject file, deliveries, id index: a crash in between leaves
 * only the subject's last event without its index, which the next record of that subject completes.
 * One dispatcher per data dir (dispatcher.ts takes the `webhook-dispatcher` lock), so its leases live
 * in its memory.
 */
import { createHash, randomUUID } from 'node:crypto';
import { link, mkdir, readdir, readFile, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { EventDraft } from '../events/types.js';
import { takeFsLock } from '../store/fs-lock.js';
import { eventBody, subscribes } from './fan-out.js';
import {
  DELIVERY_STATUSES,
  type AttemptOutcome,
  type ClaimedDelivery,
  type Delivery,
  type DeliveryCounts,
  type DeliveryFilter,
  type DeliveryStatus,
  type EndpointPatch,
  type EndpointRecord,
  type WebhookStore,
} from './types.js';

export const ENDPOINT_ID_PATTERN = /^ep_[0-9a-f]{16}$/;
/** Longest wait for the `webhooks` lock, ms: it is held for one record or one delivery's write. */
const LOCK_WAIT_MS = 30_000;

interface StoredEvent {
  id: string;
  type: string;
  account: string;
  subject: string;
  sequence: number;
  timestamp: string;
  body: string;
}

type StoredDelivery = Omit<Delivery, 'log'> & { log: Delivery['log'] };

const hash = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 40);
const seqName = (n: number) => `${String(n).padStart(10, '0')}.json`;

async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || err instanceof SyntaxError) return undefined;
    throw err;
  }
}

async function names(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).filter((n) => n.endsWith('.json') && !n.startsWith('.'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

export class FsWebhookStore implements WebhookStore {
  private readonly root: string;
  /** This instance's queue: the lock's takers, and claims (the file lock refuses this process's second taker too). */
  private tail: Promise<unknown> = Promise.resolve();
  /** Leases of this process's dispatcher: `<endpoint> <event>` → until (ms). */
  private readonly leases = new Map<string, { holder: string; until: number }>();

  constructor(private readonly dataDir: string) {
    this.root = join(dataDir, 'webhooks');
  }

  private endpointPath(id: string): string {
    if (!ENDPOINT_ID_PATTERN.test(id)) throw new Error(`invalid endpoint id ${JSON.stringify(id)}`);
    return join(this.root, 'endpoints', `${id}.json`);
  }

  private deliveryPath(endpointId: string, status: DeliveryStatus, eventId: string): string {
    if (!ENDPOINT_ID_PATTERN.test(endpointId))
      throw new Error(`invalid endpoint id ${JSON.stringify(endpointId)}`);
    return join(this.root, 'deliveries', endpointId, status, `${hash(eventId)}.json`);
  }

  /** Writes `path` whole: a 0600 temporary file renamed onto it. */
  private async write(path: string, value: unknown): Promise<void> {
    await mkdir(join(path, '..'), { recursive: true, mode: 0o700 });
    const tmp = join(this.root, `.${randomUUID()}.tmp`);
    await writeFile(tmp, JSON.stringify(value) + '\n', { mode: 0o600 });
    await rename(tmp, path);
  }

  /** Runs `work` after this instance's earlier work (claims and writes of one process never interleave). */
  private serial<T>(work: () => Promise<T>): Promise<T> {
    const result = this.tail.then(work, work);
    this.tail = result.catch(() => undefined);
    return result;
  }

  /** Runs `work` holding the `webhooks` lock of the data dir (and in this instance's order). */
  private locked<T>(work: () => Promise<T>): Promise<T> {
    return this.serial(async () => {
      await mkdir(this.root, { recursive: true, mode: 0o700 });
      const deadline = Date.now() + LOCK_WAIT_MS;
      for (let wait = 1; ; wait = Math.min(wait * 2, 20)) {
        const attempt = await takeFsLock(this.dataDir, 'webhooks');
        if (attempt.held)
          try {
            return await work();
          } finally {
            await attempt.release();
          }
        if (Date.now() > deadline)
          throw new Error(`the webhooks lock of ${this.dataDir} stayed held by pid ${attempt.holder.pid}`);
        await sleep(wait);
      }
    });
  }

  async createEndpoint(record: EndpointRecord): Promise<void> {
    await mkdir(join(this.root, 'endpoints'), { recursive: true, mode: 0o700 });
    await this.write(this.endpointPath(record.id), record);
  }

  async getEndpoint(id: string): Promise<EndpointRecord | undefined> {
    if (!ENDPOINT_ID_PATTERN.test(id)) return undefined;
    return readJson<EndpointRecord>(this.endpointPath(id));
  }

  async listEndpoints(): Promise<EndpointRecord[]> {
    const dir = join(this.root, 'endpoints');
    const out: EndpointRecord[] = [];
    for (const name of await names(dir)) {
      const e = await readJson<EndpointRecord>(join(dir, name));
      if (e && typeof e.id === 'string' && ENDPOINT_ID_PATTERN.test(e.id)) out.push(e);
    }
    return out.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
  }

  async updateEndpoint(id: string, patch: EndpointPatch): Promise<boolean> {
    return this.locked(async () => {
      const current = await this.getEndpoint(id);
      if (!current) return false;
      const next: Record<string, unknown> = { ...current, ...patch };
      for (const [k, v] of Object.entries(patch)) if (v === undefined) delete next[k];
      await this.write(this.endpointPath(id), next);
      return true;
    });
  }

  async removeEndpoint(id: string): Promise<boolean> {
    if (!ENDPOINT_ID_PATTERN.test(id)) return false;
    return this.locked(async () => {
      try {
        await unlink(this.endpointPath(id));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
        throw err;
      }
      await rm(join(this.root, 'deliveries', id), { recursive: true, force: true });
      return true;
    });
  }

  private eventPath(id: string): string {
    return join(this.root, 'events', `${hash(id)}.json`);
  }

  /** Writes the pending deliveries of a new event and then its id index (a crash between: see top). */
  private async fanOut(event: StoredEvent, subjectFile: string, endpoints: EndpointRecord[], now: Date) {
    for (const e of endpoints.filter((x) => subscribes(x, event.account, event.type))) {
      if (await this.findDelivery(e.id, event.id)) continue;
      const delivery: StoredDelivery = {
        eventId: event.id,
        endpointId: e.id,
        type: event.type,
        account: event.account,
        subject: event.subject,
        sequence: event.sequence,
        status: 'pending',
        attempts: 0,
        nextAttemptAt: now.toISOString(),
        createdAt: now.toISOString(),
        log: [],
      };
      await this.write(this.deliveryPath(e.id, 'pending', event.id), delivery);
    }
    await mkdir(join(this.root, 'events'), { recursive: true, mode: 0o700 });
    await link(subjectFile, this.eventPath(event.id)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err;
    });
  }

  private async findDelivery(
    endpointId: string,
    eventId: string,
  ): Promise<{ status: DeliveryStatus; delivery: StoredDelivery } | undefined> {
    for (const status of DELIVERY_STATUSES) {
      const delivery = await readJson<StoredDelivery>(this.deliveryPath(endpointId, status, eventId));
      if (delivery) return { status, delivery };
    }
    return undefined;
  }

  async record(drafts: readonly EventDraft[], now: Date): Promise<void> {
    if (drafts.length === 0) return;
    await this.locked(async () => {
      const endpoints = await this.listEndpoints();
      for (const draft of drafts) {
        const dir = join(this.root, 'subjects', hash(draft.subject));
        const files = (await names(dir)).sort();
        const last = files.at(-1);
        if (last) {
          // The subject's last event may lack its deliveries and index after a crash: complete it first.
          const lastEvent = await readJson<StoredEvent>(join(dir, last));
          if (lastEvent && !(await readJson(this.eventPath(lastEvent.id))))
            await this.fanOut(lastEvent, join(dir, last), endpoints, now);
        }
        if (await readJson(this.eventPath(draft.id))) continue; // recorded before: it keeps its first record
        const sequence = last ? Number(last.slice(0, 10)) + 1 : 1;
        const event: StoredEvent = {
          id: draft.id,
          type: draft.type,
          account: draft.account,
          subject: draft.subject,
          sequence,
          timestamp: now.toISOString(),
          body: eventBody(draft, now, sequence),
        };
        const file = join(dir, seqName(sequence));
        await this.write(file, event);
        await this.fanOut(event, file, endpoints, now);
      }
    });
  }

  async eventInfo(id: string): Promise<{ account: string; type: string } | undefined> {
    const e = await readJson<StoredEvent>(this.eventPath(id));
    return e && { account: e.account, type: e.type };
  }

  claim(
    holder: string,
    now: Date,
    leaseMs: number,
    maxInFlight: number,
    limit: number,
  ): Promise<ClaimedDelivery[]> {
    // In order with `complete`: a claim never reads a delivery whose outcome is being written.
    return this.serial(async () => {
      const claimed: ClaimedDelivery[] = [];
      const t = now.getTime();
      for (const [key, lease] of this.leases) if (lease.until <= t) this.leases.delete(key);
      for (const endpoint of await this.listEndpoints()) {
        if (!endpoint.enabled || claimed.length >= limit) continue;
        const dir = join(this.root, 'deliveries', endpoint.id, 'pending');
        const pending: StoredDelivery[] = [];
        for (const name of await names(dir)) {
          const d = await readJson<StoredDelivery>(join(dir, name));
          if (d) pending.push(d);
        }
        const leased = (d: StoredDelivery) => this.leases.has(`${endpoint.id} ${d.eventId}`);
        let room = maxInFlight - pending.filter(leased).length;
        // Of each subject only its earliest pending delivery may go.
        const first = new Map<string, StoredDelivery>();
        for (const d of pending) {
          const seen = first.get(d.subject);
          if (!seen || d.sequence < seen.sequence) first.set(d.subject, d);
        }
        const due = [...first.values()]
          .filter((d) => !leased(d) && Date.parse(d.nextAttemptAt ?? '') <= t)
          .sort(
            (a, b) => (a.nextAttemptAt ?? '').localeCompare(b.nextAttemptAt ?? '') || a.sequence - b.sequence,
          );
        for (const d of due) {
          if (room <= 0 || claimed.length >= limit) break;
          const event = await readJson<StoredEvent>(this.eventPath(d.eventId));
          if (!event) continue;
          this.leases.set(`${endpoint.id} ${d.eventId}`, { holder, until: t + leaseMs });
          room -= 1;
          claimed.push({
            eventId: d.eventId,
            endpointId: endpoint.id,
            subject: d.subject,
            sequence: d.sequence,
            attempts: d.attempts,
            body: event.body,
            timestamp: event.timestamp,
          });
        }
      }
      return claimed;
    });
  }

  async complete(
    eventId: string,
    endpointId: string,
    holder: string,
    outcome: AttemptOutcome,
  ): Promise<void> {
    const key = `${endpointId} ${eventId}`;
    if (this.leases.get(key)?.holder !== holder) return;
    // The lease goes only once the outcome is written: a claim in between would send it again.
    await this.locked(async () => {
      const from = this.deliveryPath(endpointId, 'pending', eventId);
      const current = await readJson<StoredDelivery>(from);
      if (!current) return void this.leases.delete(key); // removed meanwhile
      const { nextAttemptAt: _next, ...rest } = current;
      const next: StoredDelivery = {
        ...rest,
        status: outcome.status,
        attempts: current.attempts + 1,
        ...(outcome.attempt.nextAttemptAt ? { nextAttemptAt: outcome.attempt.nextAttemptAt } : {}),
        log: [...current.log, outcome.attempt],
      };
      await this.write(this.deliveryPath(endpointId, outcome.status, eventId), next);
      if (outcome.status !== 'pending') await unlink(from).catch(() => undefined);
      this.leases.delete(key);
    });
  }

  async deliveries(filter: DeliveryFilter): Promise<Delivery[]> {
    const endpoints = filter.endpointId !== undefined ? [filter.endpointId] : await this.endpointDirs();
    const out: Delivery[] = [];
    for (const endpointId of endpoints) {
      if (!ENDPOINT_ID_PATTERN.test(endpointId)) continue;
      if (filter.endpointIds && !filter.endpointIds.includes(endpointId)) continue;
      for (const status of filter.status ? [filter.status] : DELIVERY_STATUSES) {
        if (filter.eventId !== undefined) {
          const d = await readJson<StoredDelivery>(this.deliveryPath(endpointId, status, filter.eventId));
          if (d) out.push(d);
          continue;
        }
        const dir = join(this.root, 'deliveries', endpointId, status);
        for (const name of await names(dir)) {
          const d = await readJson<StoredDelivery>(join(dir, name));
          if (d) out.push(d);
        }
      }
    }
    return out
      .map(({ nextAttemptAt, ...d }) => ({
        ...d,
        ...(d.status === 'pending' && nextAttemptAt ? { nextAttemptAt } : {}),
      }))
      .sort(
        (a, b) =>
          b.createdAt.localeCompare(a.createdAt) ||
          b.sequence - a.sequence ||
          a.endpointId.localeCompare(b.endpointId),
      )
      .slice(0, filter.limit ?? 100);
  }

  private async endpointDirs(): Promise<string[]> {
    return readdir(join(this.root, 'deliveries')).catch(() => []);
  }

  async redeliver(eventId: string, endpointIds: readonly string[], now: Date): Promise<number> {
    const event = await readJson<StoredEvent>(this.eventPath(eventId));
    if (!event) return 0;
    return this.locked(async () => {
      let n = 0;
      for (const endpointId of endpointIds) {
        const found = await this.findDelivery(endpointId, eventId);
        const base: StoredDelivery = found?.delivery ?? {
          eventId,
          endpointId,
          type: event.type,
          account: event.account,
          subject: event.subject,
          sequence: event.sequence,
          status: 'pending',
          attempts: 0,
          createdAt: now.toISOString(),
          log: [],
        };
        await this.write(this.deliveryPath(endpointId, 'pending', eventId), {
          ...base,
          status: 'pending',
          attempts: 0,
          nextAttemptAt: now.toISOString(),
        });
        if (found && found.status !== 'pending')
          await unlink(this.deliveryPath(endpointId, found.status, eventId)).catch(() => undefined);
        n += 1;
      }
      return n;
    });
  }

  async counts(): Promise<DeliveryCounts> {
    const counts: DeliveryCounts = { pending: 0, delivered: 0, failed: 0, disabledEndpoints: 0 };
    for (const endpointId of await this.endpointDirs())
      for (const status of DELIVERY_STATUSES)
        counts[status] += (await names(join(this.root, 'deliveries', endpointId, status))).length;
    counts.disabledEndpoints = (await this.listEndpoints()).filter((e) => !e.enabled).length;
    return counts;
  }
}

/**
 * Creating and steering monitors: a spec in the store (src/monitors/store.ts) and a Temporal Schedule
 * `monitor-<name>` whose action is the `monitorRunWorkflow`. Shared by the CLI and the HTTP service.
 * The spec is written first and the schedule second, so a schedule never runs without its spec; a
 * create whose schedule fails removes the spec again.
 */
import { randomBytes } from 'node:crypto';
import {
  ScheduleNotFoundError,
  ScheduleOverlapPolicy,
  type Client,
  type ScheduleOptionsAction,
  type ScheduleSpec,
} from '@temporalio/client';
import { parseBatchOptions, type BatchOptionsInput } from '../batch/options.js';
import { canAct, type Principal } from '../auth/principal.js';
import { DEFAULT_ACCOUNT, planOfLabel } from '../config/accounts.js';
import { httpUrl } from '../omniscrape/types.js';
import type { SitemapSource } from '../sitemaps/types.js';
import type { ResultStore } from '../store/types.js';
import { AccountAttr, MonitorAttr } from '../temporal/search-attributes.js';
import { requireSetup } from '../temporal/setup.js';
import { parseThreshold } from '../monitors/changes.js';
import { monitorStoreOf, type MonitorStore } from '../monitors/store.js';
import {
  MONITOR_DEFAULTS,
  MONITOR_NAME_PATTERN,
  scheduleIdOf,
  type ChangeThreshold,
  type MonitorInput,
  type MonitorSchedule,
  type MonitorSpec,
} from '../monitors/types.js';
import { TASK_QUEUES } from '../workflows/types.js';
import {
  AccountForbiddenError,
  MonitorExistsError,
  MonitorNotFoundError,
  ValidationError,
} from '../errors.js';
import { checkAccount, type StartContext } from './batches.js';
import { clientAddress } from './temporal.js';

/** What `monitor create` (and `update`, for the fields it gives) asks for. */
export interface MonitorRequest {
  /** The URL list (each run scrapes it); or `sitemap`. */
  urls?: Iterable<{ url: string; tags?: string[] }> | AsyncIterable<{ url: string; tags?: string[] }>;
  sitemap?: SitemapSource;
  every?: string;
  cron?: string;
  timezone?: string;
  jitter?: string;
  /** @default 1h */
  catchupWindow?: string;
  options?: BatchOptionsInput;
  maxCreditsPerRun?: number;
  maxCreditsPerMonth?: number;
  /** @default 90 */
  retainDays?: number;
  /** `price=1%`, `price=0.5`, `1%`. */
  thresholds?: string[];
  skipUnchanged?: boolean;
  paused?: boolean;
  /** The plan's concurrency as this client knows it (see StartBatchRequest.plan). */
  plan?: number;
}

export function monitorStore(store: ResultStore): MonitorStore {
  const monitors = monitorStoreOf(store);
  if (!monitors) throw new Error('this store keeps no monitors');
  return monitors;
}

/** The spec of `name`, when it exists and the principal may act on its account; else not found. */
export async function requireMonitor(
  store: ResultStore,
  name: string,
  principal?: Principal,
): Promise<MonitorSpec> {
  if (!MONITOR_NAME_PATTERN.test(name)) throw new MonitorNotFoundError(name);
  const spec = await monitorStore(store).get(name);
  if (!spec || (principal && !canAct(principal, spec.account))) throw new MonitorNotFoundError(name);
  return spec;
}

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `90s`, `30m`, `6h`, `1d` in ms (a form Temporal takes as it is); NaN for anything else. */
export function durationMs(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(s|m|h|d)$/.exec(text.trim());
  return m?.[1] && m[2] ? Number(m[1]) * (UNIT_MS[m[2]] ?? NaN) : NaN;
}

function duration(field: string, text: string | undefined, min?: string): string | undefined {
  if (text === undefined) return undefined;
  const millis = durationMs(text);
  if (!Number.isFinite(millis) || millis <= 0)
    throw new ValidationError(
      `${field}: ${JSON.stringify(text)} is not a duration (e.g. 90s, 30m, 6h, 1d)`,
      field,
    );
  if (min && millis < durationMs(min))
    throw new ValidationError(
      `${field}: ${text} is shorter than ${min}, the shortest a monitor runs at`,
      field,
    );
  return text;
}

function thresholdsOf(texts: readonly string[] | undefined): Record<string, ChangeThreshold> {
  const out: Record<string, ChangeThreshold> = {};
  for (const text of texts ?? []) {
    const parsed = parseThreshold(text);
    if (!parsed)
      throw new ValidationError(
        `changeThreshold: ${JSON.stringify(text)} must be <field>=<n>, <field>=<n>% or <n>%`,
        'changeThreshold',
      );
    out[parsed[0]] = { ...out[parsed[0]], ...parsed[1] };
  }
  return out;
}

/** A cron's shape (Temporal parses it when the schedule is made): 5 to 7 fields, or `@hourly` and the like. */
function cronOf(text: string): string {
  const fields = text.trim().split(/\s+/);
  const shaped =
    /^@[a-z]+$/.test(text.trim()) ||
    (fields.length >= 5 && fields.length <= 7 && fields.every((f) => /^[\w*,\-/?#]+$/.test(f)));
  if (!shaped)
    throw new ValidationError(
      `cron: ${JSON.stringify(text.slice(0, 100))} is not a cron expression (5 fields: minute hour day-of-month month day-of-week, e.g. "0 */6 * * *")`,
      'cron',
    );
  return text.trim();
}

/** An IANA time zone name (the runtime's own list, as Temporal's). */
function timezoneOf(text: string): string {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: text });
    return text;
  } catch {
    throw new ValidationError(
      `timezone: ${JSON.stringify(text.slice(0, 100))} is not an IANA time zone (e.g. Europe/Paris, UTC)`,
      'timezone',
    );
  }
}

export function scheduleOf(request: MonitorRequest, previous?: MonitorSchedule): MonitorSchedule {
  if (request.every !== undefined && request.cron !== undefined)
    throw new ValidationError('every: give --every or --cron, not both', 'every');
  const timing =
    request.every !== undefined || request.cron !== undefined
      ? {
          ...(request.every !== undefined
            ? { every: duration('every', request.every, MONITOR_DEFAULTS.minEvery) }
            : {}),
          ...(request.cron !== undefined ? { cron: cronOf(request.cron) } : {}),
        }
      : previous
        ? {
            ...(previous.every ? { every: previous.every } : {}),
            ...(previous.cron ? { cron: previous.cron } : {}),
          }
        : undefined;
  if (!timing)
    throw new ValidationError('every: a monitor needs --every <duration> or --cron <expr>', 'every');
  const timezone = request.timezone !== undefined ? timezoneOf(request.timezone) : previous?.timezone;
  const jitter = duration('jitter', request.jitter) ?? previous?.jitter;
  return {
    ...timing,
    ...(timezone ? { timezone } : {}),
    ...(jitter ? { jitter } : {}),
    catchupWindow:
      duration('catchupWindow', request.catchupWindow) ??
      previous?.catchupWindow ??
      MONITOR_DEFAULTS.catchupWindow,
  };
}

function scheduleSpecOf(schedule: MonitorSchedule): ScheduleSpec {
  return {
    ...(schedule.every ? { intervals: [{ every: schedule.every as never }] } : {}),
    ...(schedule.cron ? { cronExpressions: [schedule.cron] } : {}),
    ...(schedule.timezone ? { timezone: schedule.timezone } : {}),
    ...(schedule.jitter ? { jitter: schedule.jitter as never } : {}),
  };
}

function actionOf(spec: MonitorSpec): ScheduleOptionsAction {
  return {
    type: 'startWorkflow',
    workflowType: 'monitorRunWorkflow',
    // Temporal appends the scheduled time; the run names its batch itself (src/workflows/monitor.ts).
    workflowId: `monitor-run-${spec.name}`,
    taskQueue: TASK_QUEUES.workflows,
    args: [{ name: spec.name }],
    typedSearchAttributes: [
      { key: MonitorAttr, value: spec.name },
      { key: AccountAttr, value: spec.account },
    ],
  };
}

/** Stores a URL list once for a spec version: `<name>@input-<version>` (no batch can take an `@` id). */
async function storeUrls(store: ResultStore, name: string, urls: NonNullable<MonitorRequest['urls']>) {
  const inputId = `${name}@input-${randomBytes(6).toString('hex')}`;
  async function* checked() {
    let position = 0;
    for await (const item of urls) {
      const parsed = httpUrl.safeParse(item.url);
      if (!parsed.success)
        throw new ValidationError(
          `urls[${position}]: ${JSON.stringify(String(item.url).slice(0, 200))} ${parsed.error.issues[0]?.message ?? 'is invalid'}`,
          `urls[${position}]`,
        );
      yield { url: item.url, ...(item.tags?.length ? { tags: item.tags } : {}) };
      position += 1;
    }
  }
  const count = await store.putInput(inputId, checked());
  if (count === 0) throw new ValidationError('urls: the monitor has no URLs', 'urls');
  return { kind: 'urls', inputId, count } as const;
}

async function inputOf(
  store: ResultStore,
  name: string,
  request: MonitorRequest,
): Promise<MonitorInput | undefined> {
  if (request.urls && request.sitemap)
    throw new ValidationError('input: give URLs or a sitemap, not both', 'input');
  if (request.sitemap) {
    if (request.sitemap.urls.length === 0)
      throw new ValidationError('sitemap: give at least one URL', 'sitemap');
    return { kind: 'sitemap', source: request.sitemap };
  }
  return request.urls ? storeUrls(store, name, request.urls) : undefined;
}

function optionsOf(client: Client, request: MonitorRequest, context: StartContext, base?: MonitorSpec) {
  if (base && !request.options) return base.options;
  const input = { ...(base ? { account: base.account } : {}), ...request.options };
  const label = input.account ?? DEFAULT_ACCOUNT;
  const plan = (context.accounts && planOfLabel(context.accounts, label)) ?? request.plan;
  const options = parseBatchOptions(input, { plan });
  if (context.principal && !canAct(context.principal, options.account))
    throw new AccountForbiddenError(options.account, context.principal.name);
  checkAccount(options.account, context.accounts);
  if (request.maxCreditsPerRun === undefined && options.maxCredits !== undefined)
    throw new ValidationError('maxCredits: a monitor caps each run with maxCreditsPerRun', 'maxCredits');
  if (client.options.loadedDataConverter.payloadCodecs.length > 0) options.searchableUrls = false;
  return options;
}

function checkNumbers(request: MonitorRequest): void {
  for (const field of ['maxCreditsPerRun', 'maxCreditsPerMonth', 'retainDays'] as const) {
    const value = request[field];
    if (
      value !== undefined &&
      (!Number.isFinite(value) || value < 0 || (field === 'retainDays' && value < 1))
    )
      throw new ValidationError(
        `${field}: ${value} must be a ${field === 'retainDays' ? 'whole number of days ≥ 1' : 'number ≥ 0'}`,
        field,
      );
  }
}

/** Creates the monitor's spec and schedule; refuses a taken name (`MonitorExistsError`). */
export async function createMonitor(
  client: Client,
  store: ResultStore,
  name: string,
  request: MonitorRequest,
  context: StartContext = {},
): Promise<MonitorSpec> {
  if (!MONITOR_NAME_PATTERN.test(name))
    throw new ValidationError(
      `name: ${JSON.stringify(name.slice(0, 100))} must be 1 to 64 letters, digits, . _ - (starting with a letter or digit)`,
      'name',
    );
  checkNumbers(request);
  const options = optionsOf(client, request, context);
  const schedule = scheduleOf(request);
  const thresholds = thresholdsOf(request.thresholds);
  const monitors = monitorStore(store);
  await requireSetup(client.connection, client.options.namespace, clientAddress(client));
  if (await monitors.get(name)) throw new MonitorExistsError(name);
  const input = await inputOf(store, name, request);
  if (!input) throw new ValidationError('input: a monitor needs --input <file> or --sitemap <url>', 'input');
  const now = new Date().toISOString();
  const spec: MonitorSpec = {
    name,
    account: options.account,
    input,
    schedule,
    options,
    ...(request.maxCreditsPerRun !== undefined ? { maxCreditsPerRun: request.maxCreditsPerRun } : {}),
    ...(request.maxCreditsPerMonth !== undefined ? { maxCreditsPerMonth: request.maxCreditsPerMonth } : {}),
    retainDays: request.retainDays ?? MONITOR_DEFAULTS.retainDays,
    thresholds,
    skipUnchanged: request.skipUnchanged ?? false,
    state: {
      paused: request.paused ?? false,
      ...(request.paused ? { pauseReason: 'manual' } : {}),
      skipsReported: 0,
    },
    createdAt: now,
    updatedAt: now,
  };
  if (!(await monitors.create(spec))) throw new MonitorExistsError(name);
  try {
    await client.schedule.create({
      scheduleId: scheduleIdOf(name),
      spec: scheduleSpecOf(schedule),
      action: actionOf(spec),
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: schedule.catchupWindow as never },
      state: { paused: spec.state.paused, ...(spec.state.paused ? { note: 'manual' } : {}) },
    });
  } catch (err) {
    await monitors.delete(name, true);
    if (input.kind === 'urls') await store.deleteInput(input.inputId);
    if ((err as Error).name === 'ScheduleAlreadyRunning') throw new MonitorExistsError(name);
    throw err;
  }
  return spec;
}

/** Applies the given fields; a new input applies from the next run (runs read the spec when they start). */
export async function updateMonitor(
  client: Client,
  store: ResultStore,
  name: string,
  request: MonitorRequest,
  context: StartContext = {},
): Promise<MonitorSpec> {
  const spec = await requireMonitor(store, name, context.principal);
  checkNumbers(request);
  const options = optionsOf(client, request, context, spec);
  const timingGiven = [
    request.every,
    request.cron,
    request.timezone,
    request.jitter,
    request.catchupWindow,
  ].some((v) => v !== undefined);
  const schedule = timingGiven
    ? scheduleOf(request, request.every || request.cron ? undefined : spec.schedule)
    : spec.schedule;
  const input = (await inputOf(store, name, request)) ?? spec.input;
  const raisedCap =
    request.maxCreditsPerMonth !== undefined &&
    (spec.maxCreditsPerMonth === undefined || request.maxCreditsPerMonth > spec.maxCreditsPerMonth);
  const budgetLifted = spec.state.paused && spec.state.pauseReason === 'budget' && raisedCap;
  const next: MonitorSpec = {
    ...spec,
    options,
    account: options.account,
    input,
    schedule,
    ...(request.maxCreditsPerRun !== undefined ? { maxCreditsPerRun: request.maxCreditsPerRun } : {}),
    ...(request.maxCreditsPerMonth !== undefined ? { maxCreditsPerMonth: request.maxCreditsPerMonth } : {}),
    ...(request.retainDays !== undefined ? { retainDays: request.retainDays } : {}),
    ...(request.thresholds ? { thresholds: thresholdsOf(request.thresholds) } : {}),
    ...(request.skipUnchanged !== undefined ? { skipUnchanged: request.skipUnchanged } : {}),
    state: budgetLifted ? { ...spec.state, paused: false } : spec.state,
    updatedAt: new Date().toISOString(),
  };
  if (budgetLifted) delete next.state.pauseReason;
  await monitorStore(store).put(next);
  const handle = client.schedule.getHandle(scheduleIdOf(name));
  await handle.update((previous) => ({
    ...previous,
    spec: scheduleSpecOf(schedule),
    action: actionOf(next),
    policies: { ...previous.policies, catchupWindow: schedule.catchupWindow as never },
  }));
  if (budgetLifted) await handle.unpause('a higher --max-credits-per-month');
  if (request.paused === true) await pauseMonitor(client, store, name, context.principal);
  if (request.paused === false) await unpauseMonitor(client, store, name, context.principal);
  return (await monitorStore(store).get(name)) ?? next;
}

export async function pauseMonitor(client: Client, store: ResultStore, name: string, principal?: Principal) {
  const spec = await requireMonitor(store, name, principal);
  await client.schedule.getHandle(scheduleIdOf(name)).pause('manual');
  await monitorStore(store).put({ ...spec, state: { ...spec.state, paused: true, pauseReason: 'manual' } });
}

/** Unpauses, whatever the reason (a budget pause too: runs continue until the cap stops them again). */
export async function unpauseMonitor(
  client: Client,
  store: ResultStore,
  name: string,
  principal?: Principal,
) {
  const spec = await requireMonitor(store, name, principal);
  await client.schedule.getHandle(scheduleIdOf(name)).unpause('unpaused');
  const { pauseReason: _reason, ...state } = spec.state;
  await monitorStore(store).put({ ...spec, state: { ...state, paused: false } });
}

/** Removes the schedule and the spec; the runs' observations stay unless `purge`. */
export async function deleteMonitor(
  client: Client,
  store: ResultStore,
  name: string,
  options: { purge?: boolean; principal?: Principal } = {},
) {
  const spec = await requireMonitor(store, name, options.principal);
  try {
    await client.schedule.getHandle(scheduleIdOf(name)).delete();
  } catch (err) {
    if (!(err instanceof ScheduleNotFoundError)) throw err;
  }
  await monitorStore(store).delete(name, options.purge ?? false);
  if (options.purge && spec.input.kind === 'urls') await store.deleteInput(spec.input.inputId);
}

/** Runs the schedule's action for each time it would have fired in [from, to], one after another. */
export async function backfillMonitor(
  client: Client,
  store: ResultStore,
  name: string,
  range: { from: Date; to: Date },
  principal?: Principal,
) {
  await requireMonitor(store, name, principal);
  if (!(range.from < range.to)) throw new ValidationError('from: must be before --to', 'from');
  await client.schedule
    .getHandle(scheduleIdOf(name))
    .backfill({ start: range.from, end: range.to, overlap: ScheduleOverlapPolicy.BUFFER_ALL });
}

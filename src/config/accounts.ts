/**
 * The OmniScrape accounts of a deployment. A batch carries only its `account` label (never a key); the
 * scrape and browser workers map that label to the account's API key and plan here.
 *
 * - `default` is `OMNISCRAPE_KEY` with `OMNISCRAPE_PLAN_CONCURRENCY` and `OMNISCRAPE_BROWSER_SESSIONS`.
 * - `SCRAPEFLOW_ACCOUNTS_FILE` names a JSON file of further accounts, each with its plan, its BaaS
 *   session limit (`browserSessions`, default 2) and where its key is: an environment variable
 *   (`keyEnv`) or a file of its own (`keyFile`, relative to the accounts file). A key written in the
 *   accounts file itself is refused: that file is configuration, and configuration gets committed.
 *   ```json
 *   { "acme": { "plan": 5, "keyEnv": "OMNISCRAPE_KEY_ACME" },
 *     "globex": { "plan": 20, "browserSessions": 5, "keyFile": "/run/secrets/omniscrape-globex" } }
 *   ```
 * - Without the file every label is only a label: every batch uses `default`'s key, and they share its
 *   plan (one key is one OmniScrape account, whatever the labels). With the file, a label is an
 *   account: one the file does not list (nor `default` with its key set) is unknown, and a batch under
 *   it makes no call (`UnknownAccountError`: it pauses with reason `auth`).
 *
 * Everything is validated when a process starts, and errors name the variable or file and the field.
 * Clients read the file for its labels and plans only (`readAccountsFile`): they never need the keys.
 * Every key is registered as a secret, so no log line or error carries it.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { DEFAULT_BROWSER_SESSIONS, type Config } from './env.js';
import { ACCOUNT_LABEL_PATTERN, ACCOUNT_LABEL_RULE } from '../batch/defaults.js';
import { ConfigError } from '../errors.js';
import { registerSecret } from '../logging/secrets.js';
import { UnknownAccountError } from '../omniscrape/errors.js';

/** The account of `OMNISCRAPE_KEY` and `OMNISCRAPE_PLAN_CONCURRENCY`, and the label of a batch that names none. */
export const DEFAULT_ACCOUNT = 'default';

const FILE_VARIABLE = 'SCRAPEFLOW_ACCOUNTS_FILE';

/** What an API key may be: printable ASCII (it travels in a header), long enough to be redacted. */
const keySchema = z
  .string()
  .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces')
  .min(4, 'must be at least 4 characters');

const entrySchema = z
  .object({
    /** The plan's concurrency limit: calls in flight at once, across every scrape worker. */
    plan: z.number().int().min(1).max(10_000),
    /** BaaS sessions open at once, across every browser worker. @default 2 */
    browserSessions: z.number().int().min(1).max(10_000).optional(),
    /** The environment variable that holds the key (on the scrape and browser workers). */
    keyEnv: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be the name of an environment variable')
      .optional(),
    /** A file that holds the key alone (surrounding whitespace ignored); relative to the accounts file. */
    keyFile: z.string().min(1).optional(),
    key: z.unknown().optional(),
  })
  .strict()
  .superRefine((entry, ctx) => {
    if (entry.key !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['key'],
        message:
          'a key written in this file is refused (the file is configuration, which gets committed): name an environment variable (keyEnv) or a file of its own (keyFile)',
      });
    else if ((entry.keyEnv === undefined) === (entry.keyFile === undefined))
      ctx.addIssue({ code: 'custom', path: [], message: 'needs exactly one of keyEnv and keyFile' });
  });

const fileSchema = z.record(z.string(), entrySchema).superRefine((entries, ctx) => {
  for (const label of Object.keys(entries)) {
    // As batch options take it (src/batch/options.ts), so every label here can be started.
    if (!ACCOUNT_LABEL_PATTERN.test(label))
      ctx.addIssue({ code: 'custom', path: [label], message: ACCOUNT_LABEL_RULE });
    if (label === DEFAULT_ACCOUNT)
      ctx.addIssue({
        code: 'custom',
        path: [label],
        message: 'is the account of OMNISCRAPE_KEY and OMNISCRAPE_PLAN_CONCURRENCY: set those instead',
      });
  }
});

export interface AccountEntry {
  plan: number;
  browserSessions?: number;
  keyEnv?: string;
  keyFile?: string;
}

/** The accounts file as clients see it: labels and plans (keys only by reference). */
export interface AccountsFile {
  /** The file's absolute path. */
  path: string;
  entries: Readonly<Record<string, AccountEntry>>;
}

/** `SCRAPEFLOW_ACCOUNTS_FILE (<path>)`, as every message names it. */
const named = (path: string) => `${FILE_VARIABLE} (${path})`;

/** Reads and validates the accounts file; a `ConfigError` names the file and the field. */
export function readAccountsFile(path: string): AccountsFile {
  const absolute = resolve(path);
  let text: string;
  try {
    text = readFileSync(absolute, 'utf8');
  } catch (err) {
    throw new ConfigError(
      `${named(absolute)} cannot be read: ${(err as Error).message}`,
      `fix ${FILE_VARIABLE}`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`${named(absolute)} is not JSON: ${(err as Error).message}`, `fix the file`);
  }
  const parsed = fileSchema.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues
      .map((i) => `${i.path.map(String).join('.') || '(the file)'}: ${i.message}`)
      .join('; ');
    throw new ConfigError(`invalid ${named(absolute)}: ${problems}`, 'fix the file');
  }
  const entries: Record<string, AccountEntry> = {};
  for (const [label, { plan, browserSessions, keyEnv, keyFile }] of Object.entries(parsed.data))
    entries[label] = {
      plan,
      ...(browserSessions ? { browserSessions } : {}),
      ...(keyEnv ? { keyEnv } : {}),
      ...(keyFile ? { keyFile } : {}),
    };
  return { path: absolute, entries };
}

/** The accounts file of this process's configuration, or undefined without one. */
export function accountsFileOf(config: Pick<Config, 'SCRAPEFLOW_ACCOUNTS_FILE'>): AccountsFile | undefined {
  return config.SCRAPEFLOW_ACCOUNTS_FILE ? readAccountsFile(config.SCRAPEFLOW_ACCOUNTS_FILE) : undefined;
}

/**
 * Whether a batch may be started under `label` (clients that know the accounts file): `default`, or an
 * account of the file. Without a file, every label.
 */
export function isKnownLabel(file: AccountsFile | undefined, label: string): boolean {
  return !file || label === DEFAULT_ACCOUNT || Object.hasOwn(file.entries, label);
}

/** The plan of an account of the file (undefined for `default` and labels the file does not list). */
export function planOfLabel(file: AccountsFile, label: string): number | undefined {
  return Object.hasOwn(file.entries, label) ? file.entries[label]?.plan : undefined;
}

/** One account, as a worker uses it. The key never leaves the worker. */
export interface Account {
  /** Its name: `default` or a label of the accounts file. Plan permits are counted under it. */
  readonly name: string;
  readonly plan: number;
  /** BaaS sessions open at once (browser session permits are counted under `name` too). */
  readonly browserSessions: number;
  readonly key: string;
}

/** The accounts one worker process calls OmniScrape for. */
export class Accounts {
  readonly #accounts: ReadonlyMap<string, Account>;
  readonly #file: string | undefined;

  constructor(accounts: readonly Account[], file?: string) {
    this.#accounts = new Map(accounts.map((a) => [a.name, a]));
    this.#file = file;
    for (const a of accounts) registerSecret(a.key);
  }

  /** Every account, `default` first when it has a key. */
  list(): Account[] {
    return [...this.#accounts.values()];
  }

  get size(): number {
    return this.#accounts.size;
  }

  /**
   * The account a batch's label names: with an accounts file, the account of that name; without one,
   * `default` whatever the label. Throws `UnknownAccountError` (a 401 for that batch: it pauses with
   * reason `auth`) for a label this worker has no key for.
   */
  resolve(label: string): Account {
    const account = this.#accounts.get(this.#file === undefined ? DEFAULT_ACCOUNT : label);
    if (account) return account;
    const names = [...this.#accounts.keys()].join(', ') || 'none';
    const where =
      label === DEFAULT_ACCOUNT || this.#file === undefined
        ? 'OMNISCRAPE_KEY is not set on this worker'
        : `it is not in ${named(this.#file)}`;
    throw new UnknownAccountError(
      `account ${JSON.stringify(label)} has no OmniScrape key on this worker: ${where} (accounts here: ${names}). ` +
        `Configure it on every scrape and browser worker, then resume the batch`,
    );
  }

  /** The plan of the account named `name` (as `resolve` returned it). */
  planOf(name: string): number {
    const account = this.#accounts.get(name);
    if (!account) throw new UnknownAccountError(`no account ${JSON.stringify(name)} on this worker`);
    return account.plan;
  }

  /** The BaaS session limit of the account named `name` (as `resolve` returned it). */
  browserSessionsOf(name: string): number {
    const account = this.#accounts.get(name);
    if (!account) throw new UnknownAccountError(`no account ${JSON.stringify(name)} on this worker`);
    return account.browserSessions;
  }
}

/**
 * The accounts of a worker process: `default` when `OMNISCRAPE_KEY` is set, and those of the accounts
 * file with their keys read from the environment (`env`) or their files. A missing variable, an
 * unreadable key file, a malformed key, or one key under two accounts (two plans for one OmniScrape
 * account) is a `ConfigError` naming the file and field.
 */
export function loadAccounts(
  config: Pick<
    Config,
    | 'OMNISCRAPE_KEY'
    | 'OMNISCRAPE_PLAN_CONCURRENCY'
    | 'OMNISCRAPE_BROWSER_SESSIONS'
    | 'SCRAPEFLOW_ACCOUNTS_FILE'
  >,
  env: NodeJS.ProcessEnv = process.env,
): Accounts {
  const file = accountsFileOf(config);
  const accounts: Account[] = [];
  const owners = new Map<string, string>();
  const add = (
    name: string,
    limits: Pick<Account, 'plan' | 'browserSessions'>,
    key: string,
    field: string,
  ) => {
    const checked = keySchema.safeParse(key);
    if (!checked.success)
      throw new ConfigError(
        `${field}: the key ${checked.error.issues[0]?.message ?? 'is invalid'}`,
        'fix the key',
      );
    const owner = owners.get(key);
    if (owner !== undefined)
      throw new ConfigError(
        `${field}: the key of account ${JSON.stringify(name)} is also account ${JSON.stringify(owner)}'s: one OmniScrape account needs one label, or its plan is counted twice`,
        'give each account its own key',
      );
    owners.set(key, name);
    accounts.push({ name, ...limits, key });
  };
  if (config.OMNISCRAPE_KEY)
    add(
      DEFAULT_ACCOUNT,
      { plan: config.OMNISCRAPE_PLAN_CONCURRENCY, browserSessions: config.OMNISCRAPE_BROWSER_SESSIONS },
      config.OMNISCRAPE_KEY,
      'OMNISCRAPE_KEY',
    );
  for (const [label, entry] of Object.entries(file?.entries ?? {})) {
    const where = `${named(file!.path)}: ${label}`;
    const limits = { plan: entry.plan, browserSessions: entry.browserSessions ?? DEFAULT_BROWSER_SESSIONS };
    if (entry.keyEnv !== undefined) {
      const key = env[entry.keyEnv];
      if (!key)
        throw new ConfigError(
          `${where}.keyEnv: ${entry.keyEnv} is not set`,
          `set ${entry.keyEnv} on every scrape and browser worker`,
        );
      add(label, limits, key, `${where}.keyEnv (${entry.keyEnv})`);
    } else {
      const path = resolve(dirname(file!.path), entry.keyFile!);
      let key: string;
      try {
        key = readFileSync(path, 'utf8').trim();
      } catch (err) {
        throw new ConfigError(
          `${where}.keyFile: ${path} cannot be read: ${(err as Error).message}`,
          'fix the path',
        );
      }
      add(label, limits, key, `${where}.keyFile (${path})`);
    }
  }
  return new Accounts(accounts, file?.path);
}

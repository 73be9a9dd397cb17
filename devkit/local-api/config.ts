/**
 * The local API's configuration: a JSON file, command-line flags, or both (flags win), validated with
 * zod. Every error names the field (`accounts.0.key`, `faults.1.status`, `--balance`).
 *
 * Config file (every field optional except as noted):
 * ```json
 * {
 *   "host": "127.0.0.1", "port": 8787, "adminToken": "secret-admin-token",
 *   "accounts": [{ "id": "team-a", "key": "sk-team-a", "balance": 1000, "concurrency": 5 }],
 *   "faults": [{ "match": "*\/p/13", "action": "status", "status": 503, "first": 2 }],
 *   "minPollIntervalMs": 2000, "jobTtlMs": 3600000, "retryAfterSec": 1,
 *   "maxHangMs": 600000, "bodyLimitBytes": 1048576, "renderPages": 2, "chromiumPath": "/usr/bin/chromium",
 *   "stateFile": "/var/tmp/local-api-state.json"
 * }
 * ```
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { describeIssues } from './api-error.js';
import { faultRuleSchema } from './faults.js';
import type { LocalApiOptions } from './options.js';

export const accountSchema = z
  .object({
    id: z.string().min(1).max(100),
    key: z.string().min(4, 'must be at least 4 characters').max(500),
    balance: z.number().int().min(0),
    concurrency: z.number().int().min(1).max(10_000),
    browserSessions: z.number().int().min(1).max(1000).optional(),
  })
  .strict();

const port = z.number().int().min(0).max(65_535);

export const configFileSchema = z
  .object({
    host: z.string().min(1).optional(),
    port: port.optional(),
    adminToken: z.string().min(8, 'must be at least 8 characters').optional(),
    accounts: z.array(accountSchema).default([]),
    faults: z.array(faultRuleSchema).default([]),
    minPollIntervalMs: z.number().int().min(0).optional(),
    jobTtlMs: z.number().int().min(0).optional(),
    retryAfterSec: z.number().int().min(0).max(3600).optional(),
    maxHangMs: z.number().int().min(0).optional(),
    bodyLimitBytes: z.number().int().min(1024).optional(),
    renderPages: z.number().int().min(1).max(64).optional(),
    chromiumPath: z.string().min(1).optional(),
    fetchTimeoutMs: z.number().int().min(1).optional(),
    stateFile: z.string().min(1).optional(),
  })
  .strict()
  .superRefine((config, ctx) => {
    const ids = new Set<string>();
    const keys = new Set<string>();
    config.accounts.forEach((account, i) => {
      if (ids.has(account.id))
        ctx.addIssue({ code: 'custom', path: ['accounts', i, 'id'], message: 'is a duplicate' });
      if (keys.has(account.key))
        ctx.addIssue({ code: 'custom', path: ['accounts', i, 'key'], message: "is another account's key" });
      ids.add(account.id);
      keys.add(account.key);
    });
  });

export type LocalApiConfigFile = z.output<typeof configFileSchema>;

/** A configuration problem, one `field: message` per line. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Reads and validates a config file. */
export async function loadConfigFile(path: string): Promise<LocalApiConfigFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${path}: ${(err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`config file ${path} is not JSON: ${(err as Error).message}`);
  }
  const parsed = configFileSchema.safeParse(json);
  if (!parsed.success) throw new ConfigError(`config file ${path}:\n${describeIssues(parsed.error)}`);
  return parsed.data;
}

/** Command-line flags of `scrapeflow local-api`, as commander hands them over (strings). */
export interface LocalApiFlags {
  port?: string;
  host?: string;
  config?: string;
  key?: string;
  balance?: string;
  concurrency?: string;
  adminToken?: string;
  stateFile?: string;
}

const intFlag = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

const flagsSchema = z.object({
  port: intFlag(0, 65_535).optional(),
  host: z.string().min(1).optional(),
  config: z.string().min(1).optional(),
  key: z.string().min(4, 'must be at least 4 characters').optional(),
  /** Balance of the `--key` account. @default 1000 */
  balance: intFlag(0, Number.MAX_SAFE_INTEGER).default(1000),
  /** Concurrency of the `--key` account. @default 5 */
  concurrency: intFlag(1, 10_000).default(5),
  adminToken: z.string().min(8, 'must be at least 8 characters').optional(),
  stateFile: z.string().min(1).optional(),
});

const FLAG_NAMES: Record<string, string> = { adminToken: '--admin-token', stateFile: '--state-file' };

/**
 * Builds server options from flags and the config file they name. `--key` adds an account `cli` (with
 * `--balance`, default 1000, and `--concurrency`, default 5) next to the file's accounts.
 */
export async function optionsFromFlags(flags: LocalApiFlags): Promise<LocalApiOptions> {
  const parsed = flagsSchema.safeParse(flags);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => {
      const name = String(issue.path[0] ?? '');
      return `${FLAG_NAMES[name] ?? `--${name}`}: ${issue.message}`;
    });
    throw new ConfigError(lines.join('\n'));
  }
  const f = parsed.data;
  const file = f.config === undefined ? configFileSchema.parse({}) : await loadConfigFile(f.config);
  const accounts = [...file.accounts];
  if (f.key !== undefined) {
    if (accounts.some((a) => a.id === 'cli' || a.key === f.key))
      throw new ConfigError('--key: the config file already has this key or an account named cli');
    accounts.push({ id: 'cli', key: f.key, balance: f.balance, concurrency: f.concurrency });
  }
  if (accounts.length === 0) throw new ConfigError('accounts: give --key or a config file with accounts');
  const { host, port: filePort, adminToken, faults, stateFile, ...rest } = file;
  return {
    ...rest,
    host: f.host ?? host,
    port: f.port ?? filePort ?? 0,
    adminToken: f.adminToken ?? adminToken,
    ...((f.stateFile ?? stateFile) !== undefined ? { stateFile: f.stateFile ?? stateFile } : {}),
    accounts,
    faults,
  };
}

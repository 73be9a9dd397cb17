/**
 * API tokens: `sft_` and 32 random bytes (base64url), shown once when created and stored only as their
 * SHA-256 (a token is high-entropy, so a fast hash is enough: there is nothing to guess). Each token has
 * a unique name, its account labels (or admin) and when it was created and last used. Two stores, as
 * for results: a PostgreSQL table (`scrapeflow_tokens`, migration 8) when SCRAPEFLOW_DATABASE_URL is
 * set, else one 0600 file per token under `<data dir>/tokens/` (0700).
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { link, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type pg from 'pg';
import { z } from 'zod';
import type { Principal } from './principal.js';

export const TOKEN_PREFIX = 'sft_';
/** Random bytes of a token: 43 base64url characters after the prefix. */
export const TOKEN_BYTES = 32;
/** Token names: a safe alphabet, since the filesystem store makes file names of them. */
export const TOKEN_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** A new token (src/logging/secrets.ts redacts anything of its shape, so it is a secret from birth). */
export function generateToken(): string {
  return `${TOKEN_PREFIX}${randomBytes(TOKEN_BYTES).toString('base64url')}`;
}

/** The stored form of a token: hex SHA-256. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** A token as stored: never the token itself. */
export interface TokenRecord extends Principal {
  hash: string;
  createdAt: string;
  lastUsedAt?: string;
}

/** What `tokens list` shows of a token. */
export type TokenInfo = Omit<TokenRecord, 'hash'>;

export interface TokenStore {
  /** Stores a new token; false when the name is taken (nothing is written then). */
  create(record: TokenRecord): Promise<boolean>;
  /** Every token, by name. */
  list(): Promise<TokenInfo[]>;
  /** The token with this hash, if any. */
  find(hash: string): Promise<TokenRecord | undefined>;
  /** Removes a token; false when no token has the name. */
  revoke(name: string): Promise<boolean>;
  /** Records a use of the token (callers throttle it: see Authenticator). */
  touch(name: string, at: Date): Promise<void>;
}

const info = ({ hash: _hash, ...rest }: TokenRecord): TokenInfo => rest;
const byName = (a: { name: string }, b: { name: string }) => a.name.localeCompare(b.name);

// ---------------------------------------------------------------------------------------------------
// PostgreSQL

interface TokenRow {
  name: string;
  hash: string;
  accounts: string[];
  admin: boolean;
  created_at: Date;
  last_used_at: Date | null;
}

const fromRow = (row: TokenRow): TokenRecord => ({
  name: row.name,
  hash: row.hash,
  accounts: row.accounts,
  admin: row.admin,
  createdAt: row.created_at.toISOString(),
  ...(row.last_used_at ? { lastUsedAt: row.last_used_at.toISOString() } : {}),
});

/** Tokens in the PostgreSQL store's database (its pool; the table comes with its migrations). */
export class PgTokenStore implements TokenStore {
  private readonly table: string;

  constructor(
    private readonly pool: pg.Pool,
    prefix = '',
  ) {
    this.table = `${prefix}scrapeflow_tokens`;
  }

  async create(record: TokenRecord): Promise<boolean> {
    const { rowCount } = await this.pool.query(
      `INSERT INTO ${this.table} (name, hash, accounts, admin, created_at) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT DO NOTHING`,
      [record.name, record.hash, record.accounts, record.admin, record.createdAt],
    );
    return rowCount === 1;
  }

  async list(): Promise<TokenInfo[]> {
    const { rows } = await this.pool.query<TokenRow>(`SELECT * FROM ${this.table} ORDER BY name`);
    return rows.map((row) => info(fromRow(row)));
  }

  async find(hash: string): Promise<TokenRecord | undefined> {
    const { rows } = await this.pool.query<TokenRow>(`SELECT * FROM ${this.table} WHERE hash = $1`, [hash]);
    return rows[0] && fromRow(rows[0]);
  }

  async revoke(name: string): Promise<boolean> {
    const { rowCount } = await this.pool.query(`DELETE FROM ${this.table} WHERE name = $1`, [name]);
    return rowCount === 1;
  }

  async touch(name: string, at: Date): Promise<void> {
    await this.pool.query(`UPDATE ${this.table} SET last_used_at = $2 WHERE name = $1`, [name, at]);
  }
}

// ---------------------------------------------------------------------------------------------------
// Files

/** The JSON in a token file, or undefined when it is not JSON. */
function parseJson(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return undefined;
  }
}

const fileSchema = z.object({
  name: z.string(),
  hash: z.string(),
  accounts: z.array(z.string()),
  admin: z.boolean(),
  createdAt: z.string(),
});

/**
 * One file per token, `<dir>/<name>.json` (0600, in a 0700 directory), created exclusively (a hard link
 * of a complete file, so a name is taken once and no reader sees half a file). The last use goes to a
 * file of its own, `<name>.used`, so a use recorded while the token is revoked cannot bring it back.
 */
export class FsTokenStore implements TokenStore {
  constructor(readonly dir: string) {}

  private path(name: string, ext: 'json' | 'used'): string {
    if (!TOKEN_NAME_PATTERN.test(name)) throw new Error(`invalid token name ${JSON.stringify(name)}`);
    return join(this.dir, `${name}.${ext}`);
  }

  async create(record: TokenRecord): Promise<boolean> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const target = this.path(record.name, 'json');
    const tmp = join(this.dir, `.${randomUUID()}.tmp`);
    const { name, hash, accounts, admin, createdAt } = record;
    await writeFile(tmp, JSON.stringify({ name, hash, accounts, admin, createdAt }) + '\n', { mode: 0o600 });
    try {
      await link(tmp, target);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw err;
    } finally {
      await rm(tmp, { force: true });
    }
  }

  private async records(): Promise<TokenRecord[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const out: TokenRecord[] = [];
    for (const file of names.filter((n) => n.endsWith('.json') && !n.startsWith('.'))) {
      const raw = await readFile(join(this.dir, file), 'utf8').catch(() => undefined);
      const parsed = raw === undefined ? undefined : fileSchema.safeParse(parseJson(raw));
      // Revoked while listed, or not a token file (a stray or hand-edited file): it is no token.
      if (!parsed?.success) continue;
      const used = await readFile(this.path(parsed.data.name, 'used'), 'utf8').catch(() => undefined);
      out.push({ ...parsed.data, ...(used ? { lastUsedAt: used.trim() } : {}) });
    }
    return out.sort(byName);
  }

  async list(): Promise<TokenInfo[]> {
    return (await this.records()).map(info);
  }

  async find(hash: string): Promise<TokenRecord | undefined> {
    return (await this.records()).find((r) => r.hash === hash);
  }

  async revoke(name: string): Promise<boolean> {
    const path = this.path(name, 'json');
    try {
      await rm(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
    await rm(this.path(name, 'used'), { force: true });
    return true;
  }

  async touch(name: string, at: Date): Promise<void> {
    if (!existsSync(this.path(name, 'json'))) return;
    await writeFile(this.path(name, 'used'), at.toISOString(), { mode: 0o600 });
  }
}

/**
 * The token store beside a result store: its PostgreSQL database, or `tokens/` in its data directory;
 * none for another store (a test double).
 */
export function tokenStoreOf(store: object): TokenStore | undefined {
  if ('pool' in store && 'tablePrefix' in store)
    return new PgTokenStore(store.pool as pg.Pool, store.tablePrefix as string);
  if ('dataDir' in store) return new FsTokenStore(join(store.dataDir as string, 'tokens'));
  return undefined;
}

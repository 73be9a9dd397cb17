/**
 * `cluster up`'s PostgreSQL: the database URL (from a flag, a file or the environment, its password never
 * on a command line), the databases, and their schemas, created or migrated with `temporal-sql-tool`.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdir, readFile } from 'node:fs/promises';
import pg from 'pg';
import { CLUSTER_DEFAULTS } from '../defaults.js';
import { ClusterConfigError, ClusterStartError } from '../../errors.js';
import { redactSecrets } from '../../logging/secrets.js';
import { maskUrlPassword } from '../../logging/url-credentials.js';
import type { SchemaOutcome } from './types.js';

export interface PgTarget {
  /** What messages call the URL: `--database-url`, `SCRAPEFLOW_CLUSTER_DATABASE_URL`, a file. */
  source: string;
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
}

/** Parses the database URL; the errors name the option and never show the password. */
export function parseDatabaseUrl(value: string, source = '--database-url'): PgTarget {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ClusterConfigError(`${source} is not a URL (got ${JSON.stringify(maskUrlPassword(value))})`);
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:')
    throw new ClusterConfigError(`${source} must be a postgres:// URL (got ${url.protocol}//…)`);
  const sslmode = url.searchParams.get('sslmode');
  if (sslmode && sslmode !== 'disable')
    throw new ClusterConfigError(
      `${source}: sslmode=${sslmode} is not supported by cluster up (a plain connection only)`,
    );
  const database = decodeURIComponent(url.pathname.replace(/^\//, '')) || CLUSTER_DEFAULTS.database;
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(database))
    throw new ClusterConfigError(
      `${source}: the database name must be letters, digits and _ (got ${JSON.stringify(database)})`,
    );
  return {
    source,
    host: url.hostname || '127.0.0.1',
    port: Number(url.port || 5432),
    user: decodeURIComponent(url.username) || 'postgres',
    password: decodeURIComponent(url.password),
    database,
  };
}

/** Where `cluster up` may take its database URL from; exactly one of them. */
export interface DatabaseUrlSources {
  /** `--database-url`: argv, which `ps` shows to every user, so only a URL without a password. */
  flag?: string | undefined;
  /** `--database-url-file`: a file holding the URL (surrounding whitespace ignored). */
  file?: string | undefined;
  /** SCRAPEFLOW_CLUSTER_DATABASE_URL. */
  env?: string | undefined;
}

/** The database URL and the name messages give its source; never a password taken from argv. */
export async function clusterDatabaseUrl(from: DatabaseUrlSources): Promise<{ url: string; source: string }> {
  const given = [from.flag, from.file, from.env].filter((v) => v !== undefined);
  if (given.length !== 1)
    throw new ClusterConfigError(
      `${given.length ? 'more than one' : 'no'} database URL: set SCRAPEFLOW_CLUSTER_DATABASE_URL, or give ` +
        '--database-url-file <file> (or --database-url for a URL without a password), one of them',
    );
  if (from.flag !== undefined) {
    if (parseDatabaseUrl(from.flag).password)
      throw new ClusterConfigError(
        `--database-url ${maskUrlPassword(from.flag)} carries a password, which the process list shows to ` +
          'every user of this host: put the URL in SCRAPEFLOW_CLUSTER_DATABASE_URL or in a file named by --database-url-file',
      );
    return { url: from.flag, source: '--database-url' };
  }
  if (from.env !== undefined) return { url: from.env, source: 'SCRAPEFLOW_CLUSTER_DATABASE_URL' };
  const file = from.file as string;
  try {
    return { url: (await readFile(file, 'utf8')).trim(), source: `--database-url-file ${file}` };
  } catch (err) {
    throw new ClusterConfigError(
      `--database-url-file ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
    );
  }
}

/** `v1.19` → [1, 19]. */
const versionOf = (name: string) => name.replace(/^v/, '').split('.').map(Number);
const compareVersions = (a: string, b: string) => {
  const [x, y] = [versionOf(a), versionOf(b)];
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d) return d;
  }
  return 0;
};

/** The newest version a `versioned` schema directory migrates to (`1.19` for `v1.19`). */
async function latestVersion(versionedDir: string): Promise<string> {
  const versions = (await readdir(versionedDir)).filter((n) => /^v\d+\.\d+$/.test(n)).sort(compareVersions);
  const last = versions.at(-1);
  if (!last) throw new ClusterStartError(`no v<major>.<minor> directories in ${versionedDir}`);
  return last.slice(1);
}

async function withPg<T>(target: PgTarget, database: string, work: (c: pg.Client) => Promise<T>) {
  const { host, port, user, password } = target;
  const client = new pg.Client({ host, port, user, password, database, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
  } catch (err) {
    throw new ClusterStartError(
      `${target.source}: cannot connect to PostgreSQL at ${target.host}:${target.port} as ${target.user} (database ${database}): ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** Creates `database` unless it exists; true when it was created. */
export async function ensureDatabase(target: PgTarget, database: string): Promise<boolean> {
  return withPg(target, 'postgres', async (client) => {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (found.rowCount) return false;
    try {
      await client.query(`CREATE DATABASE "${database}"`);
    } catch (err) {
      // Another `cluster up` on the same database created it meanwhile.
      if ((err as { code?: string }).code !== '42P04') throw err;
    }
    return true;
  });
}

/** The schema version `temporal-sql-tool` recorded in `database`, or undefined before any set-up. */
async function schemaVersion(target: PgTarget, database: string): Promise<string | undefined> {
  return withPg(target, database, async (client) => {
    const table = await client.query<{ t: string | null }>("SELECT to_regclass('schema_version') AS t");
    if (!table.rows[0]?.t) return undefined;
    const row = await client.query<{ curr_version: string }>(
      'SELECT curr_version FROM schema_version WHERE db_name = $1',
      [database],
    );
    const version = row.rows[0]?.curr_version;
    return version && version !== '0.0' ? version : undefined;
  });
}

/** The environment of the processes started here, without this process's secrets (CHILD_HIDDEN). */
export function childEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of Object.keys(env)) if (CHILD_HIDDEN.test(name)) delete env[name];
  return env;
}

/**
 * What the Temporal server and its SQL tool never need and must not hold: scrapeflow's database URLs,
 * tokens, OmniScrape keys, encryption keys, and any other key or password set for this process.
 */
const CHILD_HIDDEN =
  /^(SCRAPEFLOW_(CLUSTER_)?DATABASE_URL|SCRAPEFLOW_API_TOKEN|SCRAPEFLOW_ENCRYPTION_KEYS?(_ID)?|OMNISCRAPE_KEY|TEMPORAL_API_KEY)$|_(KEY|PASSWORD|TOKEN|SECRET)$/;

async function runTool(tool: string, target: PgTarget, database: string, args: string[]): Promise<void> {
  const child = spawn(
    tool,
    [
      '--plugin',
      'postgres12',
      '--endpoint',
      target.host,
      '--port',
      String(target.port),
      '--user',
      target.user,
      '--database',
      database,
      ...args,
    ],
    // The password goes through the environment, not the command line `ps` shows.
    { env: { ...childEnv(), SQL_PASSWORD: target.password }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  const [code] = (await once(child, 'close')) as [number | null];
  if (code !== 0)
    throw new ClusterStartError(
      `temporal-sql-tool ${args[0]} on database ${database} failed (exit ${code}):\n${redactSecrets(output.trim().split('\n').slice(-15).join('\n'))}`,
    );
}

/** Brings one database to the newest schema of `versionedDir`: set up from nothing, migrated, or left. */
export async function migrate(
  tool: string,
  target: PgTarget,
  database: string,
  versionedDir: string,
): Promise<SchemaOutcome> {
  const latest = await latestVersion(versionedDir);
  const from = await schemaVersion(target, database);
  if (from && compareVersions(from, latest) >= 0) return { database, action: 'current', from, version: from };
  if (!from) await runTool(tool, target, database, ['setup-schema', '--version', '0.0']);
  await runTool(tool, target, database, ['update-schema', '--schema-dir', versionedDir]);
  return { database, action: from ? 'migrated' : 'set up', from, version: latest };
}

/**
 * An accounts file (SCRAPEFLOW_ACCOUNTS_FILE) for a test stack's extra accounts (`StackOptions.accounts`):
 * each account's key in an environment variable `OMNISCRAPE_KEY_<ID>`, or, for those in `keyFiles`, in
 * a key file beside it. Returns the file's path and what the scrape and browser workers' environment
 * needs.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Stack } from './stack.js';

export async function writeAccountsFile(
  stack: Pick<Stack, 'dataDir' | 'keys'>,
  plans: Record<string, number>,
  { keyFiles = [] }: { keyFiles?: string[] } = {},
): Promise<{ path: string; env: Record<string, string> }> {
  const env: Record<string, string> = {};
  const entries: Record<string, { plan: number; keyEnv?: string; keyFile?: string }> = {};
  for (const [id, plan] of Object.entries(plans)) {
    const key = stack.keys[id];
    if (!key) throw new Error(`the stack has no account ${id}`);
    if (keyFiles.includes(id)) {
      await writeFile(join(stack.dataDir, `${id}.key`), `${key}\n`);
      entries[id] = { plan, keyFile: `${id}.key` };
    } else {
      const variable = `OMNISCRAPE_KEY_${id.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
      env[variable] = key;
      entries[id] = { plan, keyEnv: variable };
    }
  }
  const path = join(stack.dataDir, 'accounts.json');
  await writeFile(path, JSON.stringify(entries));
  return { path, env: { ...env, SCRAPEFLOW_ACCOUNTS_FILE: path } };
}

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDemoSite, type DemoSite } from '../../devkit/demo-site/index.js';
import type { AccountView, CountersSnapshot } from '../../devkit/local-api/index.js';
import type { ChargeEntry } from '../../devkit/local-api/charges.js';
import { freePort } from '../../devkit/temporal/dev-server.js';
import { startLocalApiProcess, type LocalApiProcess } from '../support/local-api-process.js';
import { ADMIN, Http, quiet, startApi } from './helpers.js';

const KEY = 'sk-state-file-key';

describe('local API: the state file survives a SIGKILL', () => {
  const http = new Http();
  let demo: DemoSite;
  let dir: string;
  let api: LocalApiProcess;

  before(async () => {
    demo = await startDemoSite({});
    dir = await mkdtemp(join(tmpdir(), 'local-api-state-'));
    api = await startLocalApiProcess(
      {
        port: await freePort(),
        adminToken: ADMIN,
        accounts: [{ id: 'team', key: KEY, balance: 100, concurrency: 2 }],
        faults: [],
        stateFile: join(dir, 'state.json'),
      },
      join(dir, 'config.json'),
    );
  });
  after(async () => {
    await api?.kill();
    await Promise.all([demo.close(), http.close()]);
    await rm(dir, { recursive: true, force: true });
  });

  const admin = async <T>(path: string) =>
    (await http.call<T>(`${api.origin}/admin${path}`, { token: ADMIN })).body;
  const scrape = (n: number) =>
    http.call(`${api.url}/scrape`, {
      key: KEY,
      json: { url: `${demo.origin}/p/${n}`, mode: 'fast' },
      headers: { 'idempotency-key': `b1/s/${n}` },
    });

  it('keeps balances, counters and the charge ledger across a kill and a start on the same port', async () => {
    for (const n of [1, 2, 3]) assert.equal((await scrape(n)).status, 200);
    const before = {
      counters: await admin<CountersSnapshot>('/counters'),
      accounts: await admin<{ accounts: AccountView[] }>('/accounts'),
      charges: await admin<{ charges: ChargeEntry[] }>('/charges?keyPrefix=b1/'),
    };
    assert.equal(before.counters.credits.charged_total, 3);
    assert.deepEqual(
      before.charges.charges.map((c) => [c.key, c.url, c.credits, c.via]),
      [1, 2, 3].map((n) => [`b1/s/${n}`, `${demo.origin}/p/${n}`, 1, 'scrape']),
    );

    await api.kill();
    const refused = await http.call(`${api.url}/scrape`, { key: KEY, json: {} }).catch((err: Error) => err);
    assert.ok(refused instanceof Error, 'nothing listens while the API is down');
    await api.start();

    const counters = await admin<CountersSnapshot>('/counters');
    assert.deepEqual(counters, before.counters, 'every counter as before the kill');
    assert.deepEqual(await admin('/accounts'), before.accounts, 'the balance as before the kill');
    assert.deepEqual(await admin('/charges?keyPrefix=b1/'), before.charges);

    assert.equal((await scrape(4)).status, 200);
    const after = await admin<CountersSnapshot>('/counters');
    assert.equal(after.credits.charged_total, 4, 'a charge after the restart adds to the old total');
    assert.equal(after.endpoints.scrape['200_success'], 4);
    assert.equal((await admin<{ accounts: AccountView[] }>('/accounts')).accounts[0]?.balance, 96);
  });

  it('refuses a file that is not a state file, without overwriting it', async () => {
    const path = join(dir, 'not-state.json');
    await writeFile(path, JSON.stringify({ version: 1, balances: { team: -5 } }));
    await assert.rejects(
      startApi({
        accounts: [{ id: 'team', key: KEY, balance: 1, concurrency: 1 }],
        stateFile: path,
        logger: quiet,
      }),
      /state file .*not-state\.json: balances\.team/,
    );
  });
});

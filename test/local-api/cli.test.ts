import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { request } from 'undici';
import { BIN } from '../support/cli.js';

/** A port that was free a moment ago (the kernel hands out ephemeral ports at random, not in turn). */
async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  return address.port;
}

/** Starts `scrapeflow local-api <args>`, waits for its listening line, stops it; returns the URL printed. */
async function listeningUrl(args: string[]): Promise<string> {
  const child = spawn(process.execPath, [BIN, 'local-api', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, LOG_LEVEL: 'warn' },
  });
  const exited = once(child, 'exit');
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  let url: string | undefined;
  for await (const line of createInterface({ input: child.stdout })) {
    url = /^local-api listening on (http:\/\/\S+)$/.exec(line)?.[1];
    if (url) break;
  }
  assert.ok(url, `the listening line was printed (stderr: ${stderr})`);
  // It answers HTTP at the address it printed.
  const res = await request(`${url}/scrape`, { method: 'POST', headers: { 'x-api-key': 'sk-unknown' } });
  await res.body.dump();
  assert.equal(res.statusCode, 401);
  child.kill('SIGTERM');
  const [code] = (await exited) as [number | null];
  assert.equal(code, 0, stderr);
  return url;
}

describe('scrapeflow local-api (CLI)', () => {
  it(
    'takes host and port from the config file, and an explicit flag over the file',
    { timeout: 180_000 },
    async () => {
      const dir = await mkdtemp(join(tmpdir(), 'sf-local-api-'));
      try {
        const port = await freePort();
        const config = join(dir, 'local-api.json');
        const accounts = [{ id: 'a', key: 'sk-file-account', balance: 5, concurrency: 1 }];
        await writeFile(config, JSON.stringify({ host: '127.0.0.2', port, accounts }));
        assert.equal(await listeningUrl(['--config', config]), `http://127.0.0.2:${port}/v1`);
        const overridden = new URL(
          await listeningUrl(['--config', config, '--port', '0', '--host', '127.0.0.1']),
        );
        assert.equal(overridden.hostname, '127.0.0.1');
        assert.notEqual(overridden.port, String(port), '--port 0 picks a free port over the file');
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  );

  it('prints the listening URL, serves, and stops gracefully on SIGTERM', { timeout: 180_000 }, async () => {
    const child = spawn(
      process.execPath,
      [BIN, 'local-api', '--port', '0', '--key', 'sk-cli-quick', '--balance', '3'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, LOG_LEVEL: 'warn' },
      },
    );
    const exited = once(child, 'exit');
    const lines = createInterface({ input: child.stdout });
    let url: string | undefined;
    for await (const line of lines) {
      url = /^local-api listening on (http:\/\/127\.0\.0\.1:\d+\/v1)$/.exec(line)?.[1];
      if (url) break;
    }
    assert.ok(url, 'the listening line was printed');
    const res = await request(`${url}/scrape`, {
      method: 'POST',
      headers: { 'x-api-key': 'sk-cli-quick', 'content-type': 'application/json' },
      body: JSON.stringify({ url: 'http://127.0.0.1:1/', mode: 'fast' }),
    });
    const body = (await res.body.json()) as { success: boolean; billing: unknown };
    assert.equal(res.statusCode, 200);
    assert.deepEqual(body.billing, { charged: 0, balance_after: 3 });
    child.kill('SIGTERM');
    const [code] = (await exited) as [number | null];
    assert.equal(code, 0);
  });

  it('exits 2 naming the flag when a flag is invalid', { timeout: 180_000 }, async () => {
    const child = spawn(process.execPath, [BIN, 'local-api', '--key', 'sk-cli-quick', '--concurrency', '0'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const [code] = (await once(child, 'exit')) as [number | null];
    assert.equal(code, 2);
    assert.match(stderr, /--concurrency: /);
  });
});

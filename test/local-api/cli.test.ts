import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { request } from 'undici';
import { BIN } from '../support/cli.js';

describe('scrapeflow local-api (CLI)', () => {
  it('prints the listening URL, serves, and stops gracefully on SIGTERM', { timeout: 60_000 }, async () => {
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

  it('exits 2 naming the flag when a flag is invalid', { timeout: 60_000 }, async () => {
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

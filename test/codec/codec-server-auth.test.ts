/**
 * The codec server decrypts for admin tokens only, under the Host names and from the Web UI origin it
 * was configured for: a request without a token, with a token scoped to accounts, under another Host
 * (a DNS-rebinding page) or from another Origin gets nothing decoded.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { request } from 'node:http';
import { createInterface } from 'node:readline';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { defaultPayloadConverter } from '@temporalio/common';
import { Authenticator } from '../../src/auth/authenticator.js';
import { createToken } from '../../src/auth/manage.js';
import { FsTokenStore } from '../../src/auth/tokens.js';
import { EncryptionCodec } from '../../src/codec/encryption-codec.js';
import { startCodecServer, type RunningCodecServer } from '../../src/codec/server.js';
import { BIN } from '../support/cli.js';

const UI = 'http://localhost:8233';
const ENV_ADMIN = randomBytes(24).toString('hex');
const codec = new EncryptionCodec([{ id: 'k', key: randomBytes(32) }]);
let dir: string;
let server: RunningCodecServer;
let admin: string;
let scoped: string;
let body: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'codec-auth-'));
  const tokens = new FsTokenStore(join(dir, 'tokens'));
  admin = (await createToken(tokens, { accounts: [], admin: true, name: 'ops' }, undefined)).token;
  scoped = (await createToken(tokens, { accounts: ['default'], admin: false, name: 'acme' }, undefined))
    .token;
  server = await startCodecServer({
    codec,
    auth: new Authenticator({ adminToken: ENV_ADMIN, tokens }),
    port: 0,
    corsOrigins: [UI],
  });
  const [sealed] = await codec.encode([defaultPayloadConverter.toPayload('secret-sku-42')]);
  body = JSON.stringify({
    payloads: [
      {
        metadata: Object.fromEntries(
          Object.entries(sealed!.metadata!).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
        ),
        data: Buffer.from(sealed!.data!).toString('base64'),
      },
    ],
  });
});
after(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

/** A raw request, so that `Host` can be any name (fetch sets its own). */
function send(
  method: string,
  headers: Record<string, string>,
): Promise<{ status: number; headers: Record<string, unknown>; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${server.url}/decode`,
      {
        method,
        headers: { ...(method === 'POST' ? { 'content-type': 'application/json' } : {}), ...headers },
      },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
      },
    );
    req.on('error', reject);
    req.end(method === 'POST' ? body : undefined);
  });
}
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe('codec server: who may decode', () => {
  it('decodes for an admin token of the store and for SCRAPEFLOW_API_TOKEN', async () => {
    for (const token of [admin, ENV_ADMIN]) {
      const res = await send('POST', bearer(token));
      assert.equal(res.status, 200, res.text);
      const decoded = JSON.parse(res.text) as { payloads: Array<{ data: string }> };
      assert.match(Buffer.from(decoded.payloads[0]!.data, 'base64').toString(), /secret-sku-42/);
    }
  });

  it('401 without a token or with an unknown one, 403 for a token scoped to accounts', async () => {
    for (const headers of [{}, bearer('sft_' + 'x'.repeat(43)), { authorization: admin }]) {
      const res = await send('POST', headers);
      assert.equal(res.status, 401, JSON.stringify(headers));
      assert.doesNotMatch(res.text, /secret-sku/);
    }
    const res = await send('POST', bearer(scoped));
    assert.equal(res.status, 403);
    assert.match(res.text, /admin token/);
    assert.doesNotMatch(res.text, /secret-sku/);
  });

  it('refuses a Host it was not configured for (DNS rebinding), even with an admin token', async () => {
    const res = await send('POST', { ...bearer(admin), host: `rebind.attacker.test:${server.port}` });
    assert.equal(res.status, 403);
    assert.match(res.text, /host/);
    assert.equal((await send('POST', { ...bearer(admin), host: `localhost:${server.port}` })).status, 200);
  });

  it('refuses an Origin other than the Web UI, and answers CORS for that one only', async () => {
    const foreign = await send('POST', { ...bearer(admin), origin: 'http://evil.test' });
    assert.equal(foreign.status, 403);
    assert.equal(foreign.headers['access-control-allow-origin'], undefined);
    const fromUi = await send('POST', { ...bearer(admin), origin: UI });
    assert.equal(fromUi.status, 200);
    assert.equal(fromUi.headers['access-control-allow-origin'], UI);
    // A browser's preflight carries no credentials: it needs the right origin only.
    const preflight = await send('OPTIONS', {
      origin: UI,
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'authorization,content-type,x-namespace',
    });
    assert.equal(preflight.status, 204);
    assert.match(String(preflight.headers['access-control-allow-headers']), /authorization/);
    assert.equal((await send('OPTIONS', { origin: 'http://evil.test' })).status, 403);
  });

  it('scrapeflow codec-server: the tokens of the store, the admin token of the environment', async () => {
    const child = spawn(process.execPath, [BIN, 'codec-server', '--port', '0'], {
      env: {
        PATH: process.env.PATH ?? '',
        SCRAPEFLOW_DATA_DIR: dir,
        SCRAPEFLOW_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
        SCRAPEFLOW_API_TOKEN: ENV_ADMIN,
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = once(child, 'exit');
    try {
      const url = await new Promise<string>((resolve, reject) => {
        createInterface({ input: child.stdout }).on('line', (line) => {
          const found = /listening on (\S+)/.exec(line)?.[1];
          if (found) resolve(found);
        });
        void exited.then(() => reject(new Error('codec-server exited before listening')));
      });
      const post = (token?: string) =>
        fetch(`${url}/decode`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(token ? bearer(token) : {}) },
          body: JSON.stringify({ payloads: [] }),
        }).then((r) => r.status);
      assert.deepEqual(
        [await post(), await post(scoped), await post(admin), await post(ENV_ADMIN)],
        [401, 403, 200, 200],
      );
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
  });
});

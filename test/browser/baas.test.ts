/**
 * The local API's BaaS endpoint on its own (real Chromium, no Temporal): Playwright's connectOverCDP
 * works unchanged, refusals (401/429/402) come before any browser starts, `render_media=false` blocks
 * media (counted at the demo site), and a dropped socket takes the session's Chromium with it.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect } from 'node:net';
import { chromium } from 'playwright';
import { startLocalApi, type LocalApiHandle } from '../../devkit/local-api/index.js';
import { startDemoSite, type DemoSite } from '../../devkit/demo-site/index.js';
import type { SessionView } from '../../devkit/local-api/baas.js';
import { eventually } from '../support/stack.js';

const KEY = 'sk-baas-test-key';
let api: LocalApiHandle;
let demo: DemoSite;
let base: string;

before(async () => {
  [api, demo] = await Promise.all([
    startLocalApi({
      accounts: [{ id: 'b', key: KEY, balance: 1000, concurrency: 2, browserSessions: 1 }],
      retryAfterSec: 2,
    }),
    startDemoSite(),
  ]);
  base = `${api.origin.replace('http:', 'ws:')}/browser`;
});
after(async () => {
  await api?.close();
  await demo?.close();
});

const alive = (pid: number | undefined): boolean => {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const UPGRADE_HEADERS =
  'Host: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
  'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n';

/** Waits (bounded) until `done` holds of this process's local API. */
const until = (done: () => boolean, what: string) =>
  eventually(() => Promise.resolve(done()), { intervalMs: 10, what });

/** Sends a WebSocket upgrade by hand and returns the whole answer of a refusal (the server closes). */
async function rawUpgrade(path: string): Promise<string> {
  const socket = connect(api.port, '127.0.0.1');
  await once(socket, 'connect');
  socket.write(`GET ${path} HTTP/1.1\r\n${UPGRADE_HEADERS}`);
  let text = '';
  socket.on('data', (chunk: Buffer) => (text += chunk.toString()));
  await once(socket, 'close');
  return text;
}

/** Loads /media/<n> in a fresh session and returns the demo site's asset counts for it. */
async function loadMedia(n: number, renderMedia: boolean) {
  demo.resetCounters();
  const ended = once(api.state.baas.events, 'ended') as Promise<[SessionView & { seconds: number }]>;
  const browser = await chromium.connectOverCDP(`${base}?apikey=${KEY}&render_media=${renderMedia}`);
  try {
    const page = await (await browser.newContext()).newPage();
    await page.goto(`${demo.origin}/media/${n}`);
    await page.waitForSelector('.media-loaded', { state: 'attached' });
    // Fetches the page started have all been answered or refused by the time `load` fired.
    return demo.counters().assets;
  } finally {
    await browser.close();
    await ended;
  }
}

describe('BaaS endpoint of the local API', () => {
  it('render_media=false blocks images, media and fonts; without it they load', async () => {
    const blockedBefore = api.state.counters.snapshot().browser.blocked_requests;
    const blocked = await loadMedia(7, false);
    assert.deepEqual(blocked, { image: 0, video: 0, audio: 0, font: 0 });
    assert.ok(api.state.counters.snapshot().browser.blocked_requests - blockedBefore >= 5);
    const loaded = await loadMedia(8, true);
    assert.equal(loaded.image, 3);
    assert.ok(loaded.font >= 1 && loaded.video + loaded.audio >= 1, JSON.stringify(loaded));
  });

  it('refuses a bad key (401), a session above the limit (429 + Retry-After) and an empty balance (402)', async () => {
    await assert.rejects(chromium.connectOverCDP(`${base}?apikey=wrong-key`), / 401 Unauthorized/);
    await assert.rejects(chromium.connectOverCDP(base), / 401 Unauthorized/);

    const started = once(api.state.baas.events, 'started');
    const first = await chromium.connectOverCDP(`${base}?apikey=${KEY}`);
    await started;
    const answer = await rawUpgrade(`/browser?apikey=${KEY}`);
    assert.match(answer, /^HTTP\/1\.1 429 /);
    assert.match(answer, /\r\nRetry-After: 2\r\n/);
    assert.match(answer, /"retry_after":2/);
    const ended = once(api.state.baas.events, 'ended');
    await first.close();
    await ended;

    const account = api.state.accounts.byId('b')!;
    const balance = account.balance;
    account.balance = 5;
    try {
      await assert.rejects(chromium.connectOverCDP(`${base}?apikey=${KEY}`), / 402 Payment Required/);
    } finally {
      account.balance = balance;
    }
    const outcomes = api.state.counters.snapshot().browser.outcomes;
    assert.ok((outcomes['401'] ?? 0) >= 2 && (outcomes['429'] ?? 0) >= 1 && (outcomes['402'] ?? 0) >= 1);
  });

  it('charges the documented price per session', async () => {
    const before = api.state.accounts.byId('b')!.balance;
    await loadMedia(9, false);
    assert.equal(before - api.state.accounts.byId('b')!.balance, 10);
  });

  it('a socket dropped without a goodbye ends the session and kills its Chromium', async () => {
    const started = once(api.state.baas.events, 'started') as Promise<[SessionView]>;
    const ended = once(api.state.baas.events, 'ended') as Promise<[SessionView]>;
    // A raw upgrade, then the TCP connection destroyed: what a worker killed with kill -9 leaves.
    const socket = connect(api.port, '127.0.0.1');
    await once(socket, 'connect');
    socket.write(`GET /browser?apikey=${KEY} HTTP/1.1\r\n${UPGRADE_HEADERS}`);
    const [session] = await started;
    assert.ok(alive(session.pid), 'the session has a live Chromium');
    socket.destroy();
    const [gone] = await ended;
    assert.equal(gone.id, session.id);
    assert.equal(alive(session.pid), false, 'its Chromium is gone');
    assert.equal(api.state.baas.activeFor('b'), 0);
  });

  it('a client gone while its Chromium launches frees its slot and is not charged', async () => {
    const account = api.state.accounts.byId('b')!;
    const balance = account.balance;
    let started = 0;
    const onStarted = (): void => void started++;
    api.state.baas.events.on('started', onStarted);
    try {
      // A raw upgrade, then a FIN while the session's Chromium starts: what a worker killed with kill -9
      // during the upgrade leaves (the kernel closes its socket; nothing unread, so no reset).
      const socket = connect(api.port, '127.0.0.1');
      await once(socket, 'connect');
      socket.on('error', () => undefined);
      socket.write(`GET /browser?apikey=${KEY} HTTP/1.1\r\n${UPGRADE_HEADERS}`);
      await until(() => api.state.baas.activeFor('b') === 1, 'the session to launch');
      socket.end();
      await until(() => api.state.baas.list().length === 0, 'the launching session to end');
      assert.equal(started, 0, 'never handed over');
      assert.equal(account.balance, balance, 'nothing charged');
      // The limit (1) is free: the next client gets a session.
      const browser = await chromium.connectOverCDP(`${base}?apikey=${KEY}`);
      const ended = once(api.state.baas.events, 'ended');
      await browser.close();
      await ended;
    } finally {
      api.state.baas.events.off('started', onStarted);
    }
  });
});

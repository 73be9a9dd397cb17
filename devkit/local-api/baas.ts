/**
 * Browser-as-a-Service on the local API: `ws://<host>:<port>/browser?apikey=<key>&render_media=false`
 * speaks the Chrome DevTools Protocol, so `chromium.connectOverCDP(url)` works against it unchanged.
 *
 * ## A session
 * Each accepted WebSocket is one session with a dedicated Chromium (`--remote-debugging-port=0`, its
 * own profile directory). The proxy reads Chromium's `DevTools listening on ws://...` line, connects to
 * that browser endpoint and pipes CDP frames both ways, untouched. When either side closes (the client
 * disconnects, a worker is killed with `kill -9`, Chromium dies) the other side is closed, Chromium's
 * whole process group is killed and its profile removed; a client that leaves while its Chromium is
 * still starting ends the session there, uncharged. A session also ends after `maxSessionMs`.
 *
 * ## Refusals (before the upgrade; the HTTP answer has a JSON body `{ error, message, retry_after? }`)
 * | answer | when |
 * | --- | --- |
 * | 401 | `apikey` missing or unknown |
 * | 429 + `Retry-After` | the account already has `browserSessions` sessions open (default 2) |
 * | 402 | the balance (minus what work in flight holds) cannot cover `COST_TABLE.baas_session` |
 * | 503 | Chromium could not be started |
 * | 404 | any other path |
 *
 * ## Price
 * `COST_TABLE.baas_session` credits (10) per session, whatever its length, charged when the session is
 * handed to the client (the `101` is written). A session refused or whose Chromium failed to start costs
 * nothing; a session the client drops early is still charged (it was delivered).
 *
 * ## `render_media=false`
 * Blocks images, media (video, audio) and fonts. Launch flags cannot (`imagesEnabled=false` covers
 * images only), so the proxy opens its own second CDP connection to the session's Chromium, auto-attaches
 * to every page (and its out-of-process frames) with `waitForDebuggerOnStart`, enables `Fetch` with
 * request patterns for those three resource types and fails each paused request with `BlockedByClient`
 * before letting the page run. The client's CDP stream is not altered. Without the parameter (or with
 * any other value) media loads.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { STATUS_CODES, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { CHROMIUM_ARGS, findChromium } from '../../src/config/binaries.js';
import type { Logger } from '../../src/logging/logger.js';
import type { Account, Accounts } from './accounts.js';
import { COST_TABLE, Reservation } from './billing.js';
import type { ChargeLedger } from './charges.js';
import type { Counters } from './counters.js';

/** Browser sessions an account may hold open at once when its config does not say. */
export const DEFAULT_BROWSER_SESSIONS = 2;
/** Longest a session may stay open, in ms. */
export const DEFAULT_MAX_SESSION_MS = 600_000;
const LAUNCH_TIMEOUT_MS = 30_000;
/** CDP resource types `render_media=false` refuses. */
const BLOCKED_TYPES = ['Image', 'Media', 'Font'] as const;

export interface BaasOptions {
  accounts: Accounts;
  counters: Counters;
  charges: ChargeLedger;
  logger: Logger;
  /** `Retry-After` of a 429 for the session limit, in seconds. */
  retryAfterSec: number;
  /** Chromium binary. @default findChromium() */
  chromiumPath?: string;
  /** Longest a session may stay open, in ms. @default 600000 (10 min) */
  maxSessionMs?: number;
}

/** What tests and the admin view see of a session. */
export interface SessionView {
  id: string;
  account: string;
  renderMedia: boolean;
  /** Chromium's pid (its process group id too). */
  pid: number | undefined;
  /** Requests refused because of `render_media=false`. */
  blocked: number;
  startedAt: number;
}

interface Session extends SessionView {
  chromium?: ChildProcess;
  profileDir?: string;
  client?: WebSocket;
  upstream?: WebSocket;
  blocker?: WebSocket;
  ended: boolean;
  timer?: NodeJS.Timeout;
  /** Resolves once the session is gone (Chromium dead, profile removed). */
  gone: Promise<void>;
  markGone: () => void;
}

export interface BaasEvents {
  /** A session was handed to its client. */
  started: [SessionView];
  /** A session ended and its Chromium is gone. */
  ended: [SessionView & { seconds: number }];
  /** An upgrade was refused with this HTTP status. */
  refused: [number];
}

/** The account's session limit: its own, or the default. */
export const sessionLimit = (account: Account): number => account.browserSessions ?? DEFAULT_BROWSER_SESSIONS;

function refuse(
  socket: Duplex,
  status: number,
  error: string,
  message: string,
  retryAfterSec?: number,
): void {
  const body = JSON.stringify({
    error,
    message,
    ...(retryAfterSec !== undefined ? { retry_after: retryAfterSec } : {}),
  });
  const headers = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}`,
    'Content-Type: application/json',
    `Content-Length: ${Buffer.byteLength(body)}`,
    ...(retryAfterSec !== undefined ? [`Retry-After: ${retryAfterSec}`] : []),
    'Connection: close',
  ];
  socket.end(`${headers.join('\r\n')}\r\n\r\n${body}`);
}

/** Starts Chromium with a DevTools port and resolves with its browser WebSocket URL. */
async function launchChromium(
  path: string,
  profileDir: string,
  signal: AbortSignal,
): Promise<{ child: ChildProcess; endpoint: string }> {
  const child = spawn(
    path,
    [
      ...CHROMIUM_ARGS,
      '--headless',
      '--remote-debugging-address=127.0.0.1',
      '--remote-debugging-port=0',
      `--user-data-dir=${profileDir}`,
      '--no-default-browser-check',
      'about:blank',
    ],
    { detached: true, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const stderr = child.stderr;
  if (!stderr) throw new Error('chromium has no stderr');
  return new Promise((resolve, reject) => {
    let tail = '';
    const lines = createInterface({ input: stderr });
    const timer = setTimeout(
      () => fail(new Error('chromium did not open its DevTools port in time')),
      LAUNCH_TIMEOUT_MS,
    );
    const onAbort = (): void => fail(new Error('the client left while chromium started'));
    const fail = (err: Error): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      lines.close();
      killGroup(child);
      reject(err);
    };
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    lines.on('line', (line) => {
      tail = `${tail}\n${line}`.slice(-2000);
      const m = /DevTools listening on (ws:\/\/\S+)/.exec(line);
      if (!m?.[1]) return;
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      lines.close();
      stderr.resume(); // keep draining: a full pipe would block Chromium
      resolve({ child, endpoint: m[1] });
    });
    child.once('error', fail);
    child.once('exit', (code, signal) =>
      fail(new Error(`chromium exited (${code ?? signal}) before listening: ${tail.trim()}`)),
    );
  });
}

/** Kills Chromium and its helpers (renderers, zygote, GPU): the whole process group. */
function killGroup(child: ChildProcess): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    child.kill('SIGKILL');
  }
}

function openSocket(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: 256 * 1024 * 1024 });
    ws.once('open', () => {
      ws.off('error', reject);
      resolve(ws);
    });
    ws.once('error', reject);
  });
}

interface CdpMessage {
  id?: number;
  method?: string;
  sessionId?: string;
  params?: Record<string, unknown>;
  error?: unknown;
}

/**
 * The proxy's own CDP client that makes `render_media=false` true: every page (and out-of-process
 * frame) gets `Fetch.enable` for images, media and fonts before it runs, and each such request fails.
 */
async function installMediaBlocker(endpoint: string, onBlocked: () => void): Promise<WebSocket> {
  const ws = await openSocket(endpoint);
  let nextId = 0;
  const pending = new Map<number, () => void>();
  const send = (method: string, params: Record<string, unknown> = {}, sessionId?: string): Promise<void> => {
    const id = ++nextId;
    ws.send(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }));
    return new Promise((resolve) => pending.set(id, resolve));
  };
  const autoAttach = { autoAttach: true, waitForDebuggerOnStart: true, flatten: true };
  ws.on('message', (data: RawData) => {
    let msg: CdpMessage;
    try {
      const text = Array.isArray(data)
        ? Buffer.concat(data).toString()
        : Buffer.isBuffer(data)
          ? data.toString()
          : Buffer.from(new Uint8Array(data)).toString();
      msg = JSON.parse(text) as CdpMessage;
    } catch {
      return;
    }
    if (msg.id !== undefined) {
      pending.get(msg.id)?.();
      pending.delete(msg.id);
      return;
    }
    const params = msg.params ?? {};
    if (msg.method === 'Target.attachedToTarget') {
      const sessionId = String(params.sessionId);
      const type = (params.targetInfo as { type?: string } | undefined)?.type;
      void (async () => {
        if (type === 'page' || type === 'iframe') {
          await send(
            'Fetch.enable',
            { patterns: BLOCKED_TYPES.map((resourceType) => ({ resourceType, requestStage: 'Request' })) },
            sessionId,
          );
          await send('Target.setAutoAttach', autoAttach, sessionId);
        }
        await send('Runtime.runIfWaitingForDebugger', {}, sessionId);
      })().catch(() => undefined);
    } else if (msg.method === 'Fetch.requestPaused' && msg.sessionId) {
      onBlocked();
      void send(
        'Fetch.failRequest',
        { requestId: params.requestId, errorReason: 'BlockedByClient' },
        msg.sessionId,
      );
    }
  });
  await send('Target.setAutoAttach', autoAttach);
  return ws;
}

/** The sessions of the local API's BaaS endpoint. */
export class BaasSessions {
  /** Session lifecycle events (tests synchronise on them). */
  readonly events = new EventEmitter<BaasEvents>();
  readonly #sessions = new Map<string, Session>();
  readonly #wss = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    maxPayload: 256 * 1024 * 1024,
  });
  #nextId = 0;
  #closed = false;

  constructor(readonly options: BaasOptions) {}

  /** Open sessions (launching ones included). */
  list(): SessionView[] {
    return [...this.#sessions.values()].map(view);
  }

  /**
   * Open sessions of an account, launching ones included; a session stops counting as soon as it ends
   * (either socket closed), while its Chromium is still being killed.
   */
  activeFor(accountId: string): number {
    let n = 0;
    for (const s of this.#sessions.values()) if (s.account === accountId && !s.ended) n++;
    return n;
  }

  /** Answers WebSocket upgrades of `server`: `/browser` becomes a session, anything else a 404. */
  attach(server: Server): void {
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      socket.on('error', () => undefined);
      this.#upgrade(req, socket, head).catch((err: unknown) => {
        this.options.logger.error({ err }, 'browser session upgrade failed');
        socket.destroy();
      });
    });
  }

  /** Ends every session (the local API is closing). */
  async close(): Promise<void> {
    this.#closed = true;
    const sessions = [...this.#sessions.values()];
    for (const s of sessions) this.#end(s, 'local API closing');
    await Promise.all(sessions.map((s) => s.gone));
    this.#wss.close();
  }

  async #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const { accounts, counters, charges, logger } = this.options;
    const url = new URL(req.url ?? '/', 'http://local');
    const refused = (status: number, error: string, message: string, retryAfterSec?: number): void => {
      counters.browserOutcome(String(status));
      this.events.emit('refused', status);
      refuse(socket, status, error, message, retryAfterSec);
    };
    if (url.pathname !== '/browser')
      return refused(404, 'not_found', `no WebSocket endpoint ${url.pathname}`);
    if (this.#closed) return refused(503, 'unavailable', 'the local API is closing');
    const key = url.searchParams.get('apikey');
    const account = key ? accounts.byKey(key) : undefined;
    if (!account) return refused(401, 'invalid_api_key', 'missing or unknown API key');
    if (this.activeFor(account.id) >= sessionLimit(account)) {
      const retryAfter = this.options.retryAfterSec;
      return refused(
        429,
        'rate_limited',
        `the account has ${sessionLimit(account)} browser sessions open (its limit)`,
        retryAfter,
      );
    }
    const reservation = Reservation.take(account, COST_TABLE.baas_session);
    if (!reservation)
      return refused(
        402,
        'insufficient_balance',
        `a browser session costs ${COST_TABLE.baas_session} credits`,
      );

    let markGone = (): void => undefined;
    const gone = new Promise<void>((resolve) => (markGone = resolve));
    const session: Session = {
      gone,
      markGone,
      id: `bs_${++this.#nextId}`,
      account: account.id,
      renderMedia: url.searchParams.get('render_media') !== 'false',
      pid: undefined,
      blocked: 0,
      startedAt: Date.now(),
      ended: false,
    };
    this.#sessions.set(session.id, session); // counts against the limit from now on
    // The client may go while Chromium starts (a worker killed mid-upgrade). Its FIN shows as 'end'
    // only: the HTTP server keeps sockets half-open, so 'close' would not come until we close ours.
    const left = new AbortController();
    const onGone = (): void => left.abort();
    socket.once('end', onGone);
    socket.once('close', onGone);
    try {
      session.profileDir = await mkdtemp(join(tmpdir(), 'omniscrape-baas-'));
      const { child, endpoint } = await launchChromium(
        this.options.chromiumPath ?? findChromium(),
        session.profileDir,
        left.signal,
      );
      session.chromium = child;
      session.pid = child.pid;
      child.once('exit', () => this.#end(session, 'chromium exited'));
      if (!session.renderMedia) {
        session.blocker = await installMediaBlocker(endpoint, () => {
          session.blocked++;
          counters.browserBlocked();
        });
      }
      session.upstream = await openSocket(endpoint);
    } catch (err) {
      reservation.release();
      if (left.signal.aborted) return this.#left(session, socket);
      logger.error({ err, session: session.id }, 'browser session could not start');
      this.#end(session, 'launch failed');
      refused(503, 'browser_unavailable', 'the browser could not be started');
      return;
    } finally {
      socket.off('end', onGone);
      socket.off('close', onGone);
    }
    if (left.signal.aborted || session.ended) {
      reservation.release();
      return this.#left(session, socket);
    }

    let handedOver = false;
    this.#wss.handleUpgrade(req, socket, head, (client) => {
      handedOver = true;
      const { charged } = reservation.commit(COST_TABLE.baas_session);
      counters.charged(account.id, charged);
      charges.add({ account: account.id, key: null, url: null, via: 'browser', credits: charged });
      counters.browserOutcome('101');
      counters.browserSessionStarted(account.id, this.activeFor(account.id));
      session.client = client;
      const upstream = session.upstream as WebSocket;
      client.on('message', (data: RawData, isBinary: boolean) => {
        if (upstream.readyState === WebSocket.OPEN) upstream.send(data, { binary: isBinary });
      });
      upstream.on('message', (data: RawData, isBinary: boolean) => {
        if (client.readyState === WebSocket.OPEN) client.send(data, { binary: isBinary });
      });
      client.on('close', () => this.#end(session, 'client closed'));
      client.on('error', () => this.#end(session, 'client error'));
      upstream.on('close', () => this.#end(session, 'browser closed'));
      upstream.on('error', () => this.#end(session, 'browser error'));
      session.timer = setTimeout(
        () => this.#end(session, 'session too long'),
        this.options.maxSessionMs ?? DEFAULT_MAX_SESSION_MS,
      );
      logger.info({ session: session.id, account: account.id, pid: session.pid }, 'browser session started');
      this.events.emit('started', view(session));
    });
    // ws destroys a socket its client has half-closed without calling back (it calls back synchronously
    // otherwise): such a session was never handed over and must not keep counting against the limit.
    if (!handedOver) {
      reservation.release();
      this.#left(session, socket);
    }
  }

  /** Ends a session whose client left before it was handed over, and drops what is left of its socket. */
  #left(session: Session, socket: Duplex): void {
    socket.destroy();
    this.#end(session, 'client left during launch');
  }

  /** Ends a session once: both sockets closed, Chromium's process group killed, its profile removed. */
  #end(session: Session, why: string): void {
    if (session.ended) return;
    session.ended = true;
    clearTimeout(session.timer);
    const { counters, logger } = this.options;
    const seconds = (Date.now() - session.startedAt) / 1000;
    session.client?.close(why === 'local API closing' ? 1001 : 1011, why.slice(0, 100));
    session.client?.terminate();
    session.upstream?.terminate();
    session.blocker?.terminate();
    const finish = (): void => {
      this.#sessions.delete(session.id);
      if (session.client) {
        counters.browserSessionEnded(session.account, this.activeFor(session.account), seconds);
        logger.info({ session: session.id, why, seconds, blocked: session.blocked }, 'browser session ended');
      }
      const dir = session.profileDir;
      void (dir ? rm(dir, { recursive: true, force: true }).catch(() => undefined) : Promise.resolve()).then(
        () => {
          session.markGone();
          if (session.client) this.events.emit('ended', { ...view(session), seconds });
        },
      );
    };
    const child = session.chromium;
    if (child && child.exitCode === null && child.signalCode === null) {
      child.once('exit', finish);
      killGroup(child);
    } else {
      finish();
    }
  }
}

function view(s: Session): SessionView {
  return {
    id: s.id,
    account: s.account,
    renderMedia: s.renderMedia,
    pid: s.pid,
    blocked: s.blocked,
    startedAt: s.startedAt,
  };
}

/**
 * A local webhook receiver: records each request (headers and raw body), answers by `respond` (by
 * default the first `failFirst` requests with 503, then 204), and lets tests wait for the n-th
 * accepted delivery (no sleeps).
 */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { once, EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** Milliseconds since the receiver started. */
  at: number;
}

/** An answer: a status with headers and body, or `hold` (answered when `release` is called). */
export type Answer = { status: number; headers?: Record<string, string>; body?: string | Buffer } | 'hold';

export interface WebhookReceiver {
  url: string;
  origin: string;
  /** Bodies of the requests answered 2xx, parsed. */
  received: Record<string, unknown>[];
  /** The requests answered 2xx, raw. */
  accepted: ReceivedRequest[];
  /** Every request, failed ones included. */
  all: ReceivedRequest[];
  requests: number;
  /** Requests held open now, and the most held at once. */
  held: number;
  maxHeld: number;
  /** Answers every held request 204. */
  release(): void;
  /** Resolves once `n` requests have been accepted (bounded by `timeoutMs`). */
  waitFor(n: number, timeoutMs?: number): Promise<Record<string, unknown>[]>;
  /** Resolves once `n` requests of any answer have arrived. */
  waitForRequests(n: number, timeoutMs?: number): Promise<ReceivedRequest[]>;
  close(): Promise<void>;
}

export async function startWebhookReceiver(
  options: {
    failFirst?: number;
    respond?: (request: ReceivedRequest, n: number) => Answer;
    /** Listen on this port (one chosen before, so that a sender met refused connections first). @default a free one */
    port?: number;
  } = {},
): Promise<WebhookReceiver> {
  const events = new EventEmitter();
  const started = Date.now();
  const state = {
    received: [] as Record<string, unknown>[],
    accepted: [] as ReceivedRequest[],
    all: [] as ReceivedRequest[],
    held: [] as Array<() => void>,
    maxHeld: 0,
  };
  const respond =
    options.respond ??
    ((_r: ReceivedRequest, n: number): Answer => ({ status: n <= (options.failFirst ?? 0) ? 503 : 204 }));
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const request = {
        path: req.url ?? '/',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        at: Date.now() - started,
      };
      state.all.push(request);
      events.emit('request');
      const answer = respond(request, state.all.length);
      const accept = () => {
        state.accepted.push(request);
        try {
          state.received.push(JSON.parse(request.body) as Record<string, unknown>);
        } catch {
          state.received.push({});
        }
        events.emit('alert');
      };
      if (answer === 'hold') {
        state.held.push(() => {
          res.writeHead(204).end();
          accept();
        });
        state.maxHeld = Math.max(state.maxHeld, state.held.length);
        events.emit('held');
        return;
      }
      res.writeHead(answer.status, answer.headers).end(answer.body);
      if (answer.status >= 200 && answer.status < 300) accept();
    });
  });
  server.listen(options.port ?? 0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const until = async (done: () => boolean, event: string, timeoutMs: number) => {
    const deadline = AbortSignal.timeout(timeoutMs);
    while (!done()) await once(events, event, { signal: deadline });
  };
  return {
    url: `http://127.0.0.1:${port}/hook/secret-token`,
    origin: `http://127.0.0.1:${port}`,
    get received() {
      return state.received;
    },
    get accepted() {
      return state.accepted;
    },
    get all() {
      return state.all;
    },
    get requests() {
      return state.all.length;
    },
    get held() {
      return state.held.length;
    },
    get maxHeld() {
      return state.maxHeld;
    },
    release() {
      for (const answer of state.held.splice(0)) answer();
    },
    async waitFor(n, timeoutMs = 30_000) {
      await until(() => state.received.length >= n, 'alert', timeoutMs);
      return state.received;
    },
    async waitForRequests(n, timeoutMs = 30_000) {
      await until(() => state.all.length >= n, 'request', timeoutMs);
      return state.all;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

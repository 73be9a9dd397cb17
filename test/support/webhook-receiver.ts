/**
 * A local webhook receiver for alert tests: records each JSON body, answers the first `failFirst`
 * requests with 503, and lets tests wait for the n-th alert (no sleeps).
 */
import { createServer } from 'node:http';
import { once, EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';

export interface WebhookReceiver {
  url: string;
  /** Bodies of the requests answered 2xx. */
  received: Record<string, unknown>[];
  /** Every request, failed ones included. */
  requests: number;
  /** Resolves once `n` alerts have been accepted (bounded by `timeoutMs`). */
  waitFor(n: number, timeoutMs?: number): Promise<Record<string, unknown>[]>;
  close(): Promise<void>;
}

export async function startWebhookReceiver(options: { failFirst?: number } = {}): Promise<WebhookReceiver> {
  const events = new EventEmitter();
  const state = { received: [] as Record<string, unknown>[], requests: 0 };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      state.requests += 1;
      if (state.requests <= (options.failFirst ?? 0)) {
        res.writeHead(503).end();
        return;
      }
      state.received.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>);
      res.writeHead(204).end();
      events.emit('alert');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook/secret-token`,
    get received() {
      return state.received;
    },
    get requests() {
      return state.requests;
    },
    async waitFor(n, timeoutMs = 30_000) {
      const deadline = AbortSignal.timeout(timeoutMs);
      while (state.received.length < n) await once(events, 'alert', { signal: deadline });
      return state.received;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

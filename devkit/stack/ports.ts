/**
 * The dev stack's ports, apart from the stack (./stack.ts) so that `dev` and `demo` offer their port
 * flags without loading it.
 */
import { once } from 'node:events';
import { createServer } from 'node:net';

/** Default ports, as the Temporal CLI and the scrapeflow docs use them. */
export const DEFAULT_PORTS = { temporal: 7233, ui: 8233, service: 8787, api: 8788, demo: 8790 } as const;
export type StackPorts = { [K in keyof typeof DEFAULT_PORTS]: number };

/** `port` when it is free on 127.0.0.1, else 0 (a free one); for commands that prefer defaults. */
export async function preferPort(port: number): Promise<number> {
  if (port === 0) return 0;
  const server = createServer();
  try {
    server.listen(port, '127.0.0.1');
    await once(server, 'listening');
    server.close();
    await once(server, 'close');
    return port;
  } catch {
    return 0;
  }
}

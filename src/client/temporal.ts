/**
 * The one way scrapeflow processes connect to Temporal as a client (CLI, HTTP service, workers'
 * notifiers). A failed connection becomes an error that says how to start a server.
 */
import { Client, type Connection } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import { dataConverterFromConfig } from '../codec/data-converter.js';
import type { EncryptionConfig } from '../codec/keys.js';
import {
  connectClientConnection,
  resolveTemporalConnection,
  type TemporalConnectionSettings,
  type TemporalEnv,
} from '../temporal/connection.js';

/**
 * Connects a client as the environment configures it (address, namespace, TLS, API key, profile: see
 * src/temporal/connection.ts), or with `options.connection` when given (the dev stack's own server).
 * Its data converter comes from the encryption settings in `config` (payloads are encrypted when a key
 * is configured), unless `options.dataConverter` is given.
 */
export async function connectClient(
  config: TemporalEnv & EncryptionConfig,
  options: { dataConverter?: DataConverter; connection?: TemporalConnectionSettings } = {},
): Promise<Client> {
  const settings = options.connection ?? resolveTemporalConnection(config);
  const dataConverter = options.dataConverter ?? dataConverterFromConfig(config);
  const connection = await connectClientConnection(settings);
  return new Client({ connection, namespace: settings.namespace, dataConverter });
}

/** The address a client connects to, for messages (a test's connection-like may have none). */
export function clientAddress(client: Client): string {
  return (client.connection as Partial<Connection>).options?.address ?? 'TEMPORAL_ADDRESS';
}

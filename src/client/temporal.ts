/**
 * The one way scrapeflow processes connect to Temporal as a client (CLI, HTTP service, workers'
 * notifiers). A failed connection becomes an error that says how to start a server.
 */
import { Client, Connection } from '@temporalio/client';
import type { Config } from '../config/env.js';

export class TemporalUnavailableError extends Error {
  override readonly name = 'TemporalUnavailableError';
}

export async function connectClient(
  config: Pick<Config, 'TEMPORAL_ADDRESS' | 'TEMPORAL_NAMESPACE'>,
): Promise<Client> {
  let connection: Connection;
  try {
    connection = await Connection.connect({ address: config.TEMPORAL_ADDRESS, connectTimeout: 5000 });
  } catch (err) {
    throw new TemporalUnavailableError(
      `no Temporal server answers at ${config.TEMPORAL_ADDRESS} (${err instanceof Error ? err.message : String(err)}). ` +
        'Start one with `scrapeflow dev` (embedded stack) or `temporal server start-dev`, or set TEMPORAL_ADDRESS.',
    );
  }
  return new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
}

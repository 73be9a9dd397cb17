/**
 * The one way scrapeflow processes connect to Temporal as a client (CLI, HTTP service, workers'
 * notifiers). A failed connection becomes an error that says how to start a server.
 */
import { Client, Connection } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import type { Config } from '../config/env.js';
import { dataConverterFromConfig } from '../codec/data-converter.js';
import type { EncryptionConfig } from '../codec/keys.js';

export class TemporalUnavailableError extends Error {
  override readonly name = 'TemporalUnavailableError';
}

/**
 * The Temporal server answers, but the namespace is not ready for scrapeflow: it does not exist, or
 * search attributes are missing or have the wrong type. The message names them and the command that
 * fixes it (`scrapeflow cluster setup`).
 */
export class TemporalNotSetUpError extends Error {
  override readonly name = 'TemporalNotSetUpError';
  readonly code = 'temporal_not_set_up';
  constructor(
    message: string,
    readonly namespace: string,
    /** What is missing or wrong: the namespace's name, or search attribute names. */
    readonly missing: string[],
  ) {
    super(message);
  }
}

/**
 * Connects a client. Its data converter comes from the encryption settings in `config` (payloads are
 * encrypted when a key is configured), unless `options.dataConverter` is given.
 */
export async function connectClient(
  config: Pick<Config, 'TEMPORAL_ADDRESS' | 'TEMPORAL_NAMESPACE'> & EncryptionConfig,
  options: { dataConverter?: DataConverter } = {},
): Promise<Client> {
  const dataConverter = options.dataConverter ?? dataConverterFromConfig(config);
  let connection: Connection;
  try {
    connection = await Connection.connect({ address: config.TEMPORAL_ADDRESS, connectTimeout: 5000 });
  } catch (err) {
    throw new TemporalUnavailableError(
      `no Temporal server answers at ${config.TEMPORAL_ADDRESS} (${err instanceof Error ? err.message : String(err)}). ` +
        'Start one with `scrapeflow dev` (embedded stack) or `temporal server start-dev`, or set TEMPORAL_ADDRESS.',
    );
  }
  return new Client({ connection, namespace: config.TEMPORAL_NAMESPACE, dataConverter });
}

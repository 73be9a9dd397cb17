/**
 * The one way scrapeflow processes connect to Temporal as a client (CLI, HTTP service, workers'
 * notifiers). A failed connection becomes an error that says how to start a server.
 */
import { Client, type Connection } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import { dataConverterFromConfig } from '../codec/data-converter.js';
import { TemporalUnavailableError, type AnyAppError } from '../errors.js';
import { notSetUpCause } from '../temporal/setup.js';
import type { EncryptionConfig } from '../codec/keys.js';
import { processTracing } from '../tracing/index.js';
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
 * is configured), unless `options.dataConverter` is given. When the process traces (src/tracing),
 * the client's calls are spans, their context sent to the workflows in Temporal headers; the process's
 * tracing starts here under `options.service` if nothing started it before.
 */
export async function connectClient(
  config: TemporalEnv & EncryptionConfig,
  options: {
    dataConverter?: DataConverter;
    connection?: TemporalConnectionSettings;
    /** The service name of this process's traces. @default scrapeflow-cli */
    service?: string;
  } = {},
): Promise<Client> {
  const settings = options.connection ?? resolveTemporalConnection(config);
  const dataConverter = options.dataConverter ?? dataConverterFromConfig(config);
  const tracing = await processTracing(options.service ?? 'scrapeflow-cli');
  const connection = await connectClientConnection(settings);
  return new Client({
    connection,
    namespace: settings.namespace,
    dataConverter,
    ...(tracing ? { interceptors: { workflow: tracing.clientInterceptors } } : {}),
  });
}

/** The address a client connects to, for messages (a test's connection-like may have none). */
export function clientAddress(client: Client): string {
  return (client.connection as Partial<Connection>).options?.address ?? 'TEMPORAL_ADDRESS';
}

/** gRPC status codes a person can act on, and what each means here. */
const ACTIONABLE_CODES: Record<number, string> = {
  4: 'did not answer in time',
  7: 'refused the request: the credentials (TEMPORAL_API_KEY, client certificate) lack the permission',
  14: 'stopped answering',
  16: 'refused the credentials (TEMPORAL_API_KEY, client certificate)',
};

/**
 * A Temporal failure a person can act on, as the application error that says what to do: a namespace
 * or search attribute that is missing (`scrapeflow cluster setup`), a server that stopped answering or
 * refused the credentials. Undefined for anything else.
 */
export function temporalAppError(err: unknown, client: Client): AnyAppError | undefined {
  const address = clientAddress(client);
  const notSetUp = notSetUpCause(err, client.options.namespace, address);
  if (notSetUp) return notSetUp;
  let code: unknown;
  for (let e: unknown = err; e instanceof Error && code === undefined; e = e.cause)
    code = (e as { code?: unknown }).code;
  const meaning = typeof code === 'number' ? ACTIONABLE_CODES[code] : undefined;
  if (!meaning) return undefined;
  const detail = err instanceof Error ? err.message : String(err);
  return new TemporalUnavailableError(`the Temporal server at ${address} ${meaning} (${detail})`, {
    cause: err,
  });
}

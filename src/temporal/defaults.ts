/**
 * What the cluster commands name in their flags and help, apart from the modules that act on it (which
 * load the Temporal client, proto and pg): the CLI builds its program without loading those.
 */

/** The files `--tls DIR` must hold, by role. */
export const TLS_FILES = {
  ca: 'ca.pem',
  cert: 'server.pem',
  key: 'server-key.pem',
  clientCert: 'client.pem',
  clientKey: 'client-key.pem',
} as const;

/** Milliseconds of the default retention of a namespace `setUpNamespace` creates. */
export const DEFAULT_RETENTION_MS = 72 * 3_600_000;

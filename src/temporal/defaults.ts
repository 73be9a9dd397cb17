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

/** What `scrapeflow cluster up` uses when not told otherwise: `clusterUp`'s defaults and its flags'. */
export const CLUSTER_DEFAULTS = {
  /** Frontend gRPC port. */
  port: 7233,
  /** Interface the frontend listens on. */
  ip: '127.0.0.1',
  /** History shards, fixed when the database is first set up. */
  historyShards: 4,
  /** The persistence database when the URL names none (visibility is `<database>_visibility`). */
  database: 'temporal',
  /** How long to wait for the frontend to answer, ms. */
  startTimeoutMs: 120_000,
  /** How long `stop` waits after SIGTERM before SIGKILL, ms. */
  stopGraceMs: 60_000,
} as const;

/** What `cluster up` takes and gives back (src/temporal/cluster-up.ts). */
import { type TLSConfig } from '@temporalio/client';

export interface ClusterUpOptions {
  /**
   * `postgres://user:password@host:port/database`; the database (default `temporal`) holds persistence.
   * The password reaches the server through its 0600 config file and the SQL tool through its
   * environment, never a command line.
   */
  databaseUrl: string;
  /** What messages call the database URL. @default --database-url */
  databaseUrlSource?: string;
  /** Directory for the config files and the server's log (created when missing). */
  stateDir: string;
  /** Frontend gRPC port. @default CLUSTER_DEFAULTS.port */
  port?: number;
  /**
   * Interface the frontend listens on (the other services always listen on 127.0.0.1). Anything but a
   * loopback address needs `tlsDir`. @default CLUSTER_DEFAULTS.ip
   */
  ip?: string;
  /**
   * mTLS on the frontend: the directory holds `ca.pem`, `server.pem` and `server-key.pem`, and optionally
   * `client.pem` / `client-key.pem` for the ready check (without them the server's certificate is used as
   * the client's, so it must allow clientAuth; the server's own system worker uses it too).
   */
  tlsDir?: string;
  /** History shards; fixed when the database is first set up (a later value is ignored by the server). @default CLUSTER_DEFAULTS.historyShards */
  historyShards?: number;
  /** How long to wait for the frontend to answer, in ms. @default CLUSTER_DEFAULTS.startTimeoutMs */
  startTimeoutMs?: number;
  /** Aborts the start (SIGTERM before the server is ready): the server is stopped, no process is left. */
  signal?: AbortSignal;
  /** Receives one line per step (schema set-up, config written). */
  onProgress?: (line: string) => void;
}

/** What one schema needed: `set up` from nothing, `migrated` from an older version, or `current`. */
export interface SchemaOutcome {
  database: string;
  action: 'set up' | 'migrated' | 'current';
  from: string | undefined;
  version: string;
}

export interface RunningCluster {
  /** `host:port` a client on this host connects to. */
  address: string;
  /** TLS settings a client needs (undefined without `tlsDir`). */
  tls: TLSConfig | undefined;
  configFile: string;
  logFile: string;
  pid: number;
  schemas: SchemaOutcome[];
  /** Milliseconds spent on databases and schemas, and from spawning the server until it answered. */
  timings: { schemaMs: number; startMs: number };
  /** Settles when the server process exits, whoever stopped it. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The last lines of the server's log (for an unexpected exit). */
  logTail(lines?: number): Promise<string>;
  /**
   * SIGTERM, then SIGKILL after `graceMs` (default 60 s: the server takes 3–15 s, about 2 s per system
   * worker whose ShutdownWorker call times out); resolves once the process is gone.
   */
  stop(graceMs?: number): Promise<void>;
}

/** `cluster up`'s config files: the server's config and its dynamic config, as YAML. */
import { BASE_DYNAMIC_CONFIG } from '../dynamic-config.js';
import type { PgTarget } from './database.js';
import type { TlsFiles } from './tls.js';

export type Yaml = string | number | boolean | Yaml[] | { [key: string]: Yaml | undefined };

/** YAML for plain data: block mappings and sequences, scalars as JSON (a subset YAML reads). */
export function toYaml(value: Yaml, indent = ''): string {
  if (Array.isArray(value))
    return value
      .map((item) => {
        const body = typeof item === 'object' ? toYaml(item, `${indent}  `).trim() : JSON.stringify(item);
        return `${indent}- ${body}\n`;
      })
      .join('');
  if (typeof value === 'object')
    return Object.entries(value)
      .filter((entry): entry is [string, Yaml] => entry[1] !== undefined)
      .map(([key, item]) =>
        typeof item === 'object'
          ? `${indent}${key}:\n${toYaml(item, `${indent}  `)}`
          : `${indent}${key}: ${JSON.stringify(item)}\n`,
      )
      .join('');
  return `${indent}${JSON.stringify(value)}\n`;
}

/**
 * Dynamic config of every `cluster up` server. Priority and fairness in matching (the new matcher is
 * already the default on 1.31; fairness is not). Worker deployments (versioning v3) are on by default on
 * 1.31, pinned here so an upgrade does not turn them off unseen. Ids are capped at 255 characters, the
 * width of SQL visibility's columns: a longer one would be accepted and then fail every visibility write.
 * One partition per task queue, as on the dev server: a single matching host gains nothing from more.
 */
export const CLUSTER_DYNAMIC_CONFIG: Readonly<Record<string, Yaml>> = {
  'matching.useNewMatcher': true,
  'matching.enableFairness': true,
  'system.enableDeploymentVersions': true,
  'frontend.workerVersioningWorkflowAPIs': true,
  'limit.maxIDLength': 255,
  ...BASE_DYNAMIC_CONFIG,
};

export interface ServerConfigInput {
  target: PgTarget;
  visibilityDatabase: string;
  port: number;
  ip: string;
  internalPorts: number[];
  historyShards: number;
  dynamicConfigFile: string;
  tls: TlsFiles | undefined;
}

/** The server's config, after the module's `config/development-postgres12.yaml`. */
export function serverConfig(input: ServerConfigInput): Yaml {
  const { target, tls } = input;
  const sql = (databaseName: string, maxConns: number): Yaml => ({
    sql: {
      pluginName: 'postgres12',
      databaseName,
      connectAddr: `${target.host}:${target.port}`,
      connectProtocol: 'tcp',
      user: target.user,
      password: target.password,
      maxConns,
      maxIdleConns: maxConns,
      maxConnLifetime: '1h',
    },
  });
  const [history, matching, worker, ...membership] = input.internalPorts as [
    number,
    number,
    number,
    ...number[],
  ];
  const rpc = (grpcPort: number, membershipPort: number | undefined, bindOnIP = '127.0.0.1'): Yaml => ({
    rpc: { grpcPort, membershipPort: membershipPort ?? 0, bindOnIP },
  });
  // The system worker (inside this process) connects to the frontend like any client, so under mTLS it
  // presents the server's certificate, and checks the frontend's against the same CA.
  const clientTls = tls ? { serverName: tls.serverName, rootCaFiles: [tls.ca] } : undefined;
  return {
    log: { stdout: true, level: 'info' },
    persistence: {
      defaultStore: 'postgres-default',
      visibilityStore: 'postgres-visibility',
      numHistoryShards: input.historyShards,
      datastores: {
        'postgres-default': sql(target.database, 20),
        'postgres-visibility': sql(input.visibilityDatabase, 10),
      },
    },
    global: {
      membership: { maxJoinDuration: '30s', broadcastAddress: '127.0.0.1' },
      tls: tls
        ? {
            frontend: {
              server: {
                certFile: tls.cert,
                keyFile: tls.key,
                clientCaFiles: [tls.ca],
                requireClientAuth: true,
              },
              client: clientTls,
            },
            systemWorker: { certFile: tls.cert, keyFile: tls.key, client: clientTls },
          }
        : undefined,
    },
    services: {
      frontend: rpc(input.port, membership[0], input.ip),
      history: rpc(history, membership[1]),
      matching: rpc(matching, membership[2]),
      worker: rpc(worker, membership[3]),
    },
    clusterMetadata: {
      enableGlobalNamespace: false,
      failoverVersionIncrement: 10,
      masterClusterName: 'active',
      currentClusterName: 'active',
      clusterInformation: {
        active: {
          enabled: true,
          initialFailoverVersion: 1,
          rpcName: 'frontend',
          rpcAddress: `127.0.0.1:${input.port}`,
        },
      },
    },
    dcRedirectionPolicy: { policy: 'noop' },
    dynamicConfigClient: { filepath: input.dynamicConfigFile, pollInterval: '10s' },
  };
}

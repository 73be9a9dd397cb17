/**
 * How every scrapeflow process connects to Temporal, configured as Temporal users configure the
 * Temporal CLI and SDKs: `@temporalio/envconfig` reads a profile of a TOML config file
 * (TEMPORAL_CONFIG_FILE, else `~/.config/temporalio/temporal.toml` when it exists; TEMPORAL_PROFILE,
 * else `default`) and lays TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS and
 * TEMPORAL_TLS_* over it. The variables come from `loadConfig` (config/env.ts stays the one reader of
 * the environment), so `resolveTemporalConnection` is a function of its argument and the files it
 * names: a test calls it with a config it made.
 *
 * One result serves both connection kinds: the options of the client's `Connection` (CLI, HTTP
 * service, notifiers) and of a worker's `NativeConnection` have the same TLS, API-key and metadata
 * shape. Problems the library would ignore or report without context (a config file named but absent,
 * a certificate without its key, a path that cannot be read, a profile not in the file) become a
 * `ConfigError` naming the variable or the file and field they came from.
 */
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { platform } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { Connection, type ConnectionOptions } from '@temporalio/client';
import {
  loadClientConfigFromToml,
  loadClientConfigProfile,
  toClientOptions,
  type ClientConfigProfile,
  type ConfigDataSource,
} from '@temporalio/envconfig';
import type { NativeConnectionOptions } from '@temporalio/worker';
import { type Config } from '../config/env.js';
import { registerSecret } from '../logging/secrets.js';
import { ConfigError, TemporalUnavailableError } from '../errors.js';

/** Where processes connect when neither the environment nor a profile names an address. */
export const DEFAULT_TEMPORAL_ADDRESS = '127.0.0.1:7233';
/** The namespace when neither the environment nor a profile names one. */
export const DEFAULT_TEMPORAL_NAMESPACE = 'default';

/** The settings `resolveTemporalConnection` reads. */
export type TemporalEnv = Partial<
  Pick<
    Config,
    | 'TEMPORAL_ADDRESS'
    | 'TEMPORAL_NAMESPACE'
    | 'TEMPORAL_API_KEY'
    | 'TEMPORAL_TLS'
    | 'TEMPORAL_TLS_CLIENT_CERT_PATH'
    | 'TEMPORAL_TLS_CLIENT_CERT_DATA'
    | 'TEMPORAL_TLS_CLIENT_KEY_PATH'
    | 'TEMPORAL_TLS_CLIENT_KEY_DATA'
    | 'TEMPORAL_TLS_SERVER_CA_CERT_PATH'
    | 'TEMPORAL_TLS_SERVER_CA_CERT_DATA'
    | 'TEMPORAL_TLS_SERVER_NAME'
    | 'TEMPORAL_PROFILE'
    | 'TEMPORAL_CONFIG_FILE'
    | 'HOME'
    | 'XDG_CONFIG_HOME'
    | 'APPDATA'
  >
>;

/** The variables envconfig reads, handed to it explicitly (it would read `process.env` otherwise). */
const ENVCONFIG_VARIABLES = [
  'TEMPORAL_ADDRESS',
  'TEMPORAL_NAMESPACE',
  'TEMPORAL_API_KEY',
  'TEMPORAL_TLS',
  'TEMPORAL_TLS_CLIENT_CERT_PATH',
  'TEMPORAL_TLS_CLIENT_CERT_DATA',
  'TEMPORAL_TLS_CLIENT_KEY_PATH',
  'TEMPORAL_TLS_CLIENT_KEY_DATA',
  'TEMPORAL_TLS_SERVER_CA_CERT_PATH',
  'TEMPORAL_TLS_SERVER_CA_CERT_DATA',
  'TEMPORAL_TLS_SERVER_NAME',
] as const satisfies ReadonlyArray<keyof TemporalEnv>;

/** Connection options both `Connection.connect` and `NativeConnection.connect` take. */
export type TemporalConnectionOptions = Pick<
  NativeConnectionOptions & ConnectionOptions,
  'address' | 'tls' | 'apiKey' | 'metadata'
> & { address: string };

/** What a connection is, for log lines and messages: no key, no certificate contents. */
export interface TemporalConnectionSummary {
  address: string;
  namespace: string;
  /** `off`, `on` (server authenticated) or `mtls` (a client certificate too). */
  tls: 'off' | 'on' | 'mtls';
  /** Whether an API key is sent (the key itself never is here). */
  apiKeySet: boolean;
  /** The config file a profile was read from, when one was. */
  configFile?: string;
  profile?: string;
}

export interface TemporalConnectionSettings {
  address: string;
  namespace: string;
  /** Spread into `Connection.connect` or `NativeConnection.connect`. Holds secrets: never log it. */
  options: TemporalConnectionOptions;
  summary: TemporalConnectionSummary;
  /** A logger or `JSON.stringify` sees the summary only. */
  toJSON(): TemporalConnectionSummary;
}

/** The settings of a plaintext connection to a local server (the dev stack's own dev server). */
export function plainConnection(
  address: string,
  namespace = DEFAULT_TEMPORAL_NAMESPACE,
): TemporalConnectionSettings {
  return settingsOf({ address }, { address, namespace, tls: 'off', apiKeySet: false });
}

function settingsOf(
  options: TemporalConnectionOptions,
  summary: TemporalConnectionSummary,
): TemporalConnectionSettings {
  return { address: summary.address, namespace: summary.namespace, options, summary, toJSON: () => summary };
}

/** envconfig's default file: `temporalio/temporal.toml` in the user's config directory. */
function defaultConfigFile(env: TemporalEnv): string | undefined {
  switch (platform()) {
    case 'win32':
      return env.APPDATA ? join(env.APPDATA, 'temporalio', 'temporal.toml') : undefined;
    case 'darwin':
      return env.HOME
        ? join(env.HOME, 'Library', 'Application Support', 'temporalio', 'temporal.toml')
        : undefined;
    default: {
      const dir =
        env.XDG_CONFIG_HOME !== undefined
          ? isAbsolute(env.XDG_CONFIG_HOME)
            ? env.XDG_CONFIG_HOME
            : undefined
          : env.HOME
            ? join(env.HOME, '.config')
            : undefined;
      return dir ? join(dir, 'temporalio', 'temporal.toml') : undefined;
    }
  }
}

/** The config file to read (and what names it in messages), or undefined when there is none. */
function configFileOf(env: TemporalEnv): { path: string; named: string } | undefined {
  if (env.TEMPORAL_CONFIG_FILE) {
    if (!existsSync(env.TEMPORAL_CONFIG_FILE))
      throw new ConfigError(
        `TEMPORAL_CONFIG_FILE: no file at ${env.TEMPORAL_CONFIG_FILE}`,
        'point TEMPORAL_CONFIG_FILE at a TOML file of Temporal profiles, or unset it',
      );
    return { path: env.TEMPORAL_CONFIG_FILE, named: `TEMPORAL_CONFIG_FILE ${env.TEMPORAL_CONFIG_FILE}` };
  }
  const path = defaultConfigFile(env);
  return path && existsSync(path) ? { path, named: `the Temporal config file ${path}` } : undefined;
}

/** One TLS file setting: the variable that set it, or the profile field it came from. */
interface TlsFile {
  label: string;
  source: ConfigDataSource | undefined;
  variable: `TEMPORAL_TLS_${string}_PATH`;
  field: string;
}

/** Fails naming where a TLS file came from when it cannot be read. */
function checkReadable(file: TlsFile, env: TemporalEnv, where: string): void {
  if (!file.source || !('path' in file.source)) return;
  const fromEnv = env[file.variable as keyof TemporalEnv] !== undefined;
  const origin = fromEnv ? file.variable : `${file.field} in ${where}`;
  try {
    accessSync(file.source.path, constants.R_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(
      `${origin}: the ${file.label} ${file.source.path} ${code === 'ENOENT' ? 'does not exist' : `cannot be read (${code})`}`,
      fromEnv ? 'fix the environment variable' : 'fix the profile or override it with the variable',
    );
  }
}

/**
 * The connection this environment configures: the profile (when a config file exists), the variables
 * over it, then the defaults. Reads the config file and checks that the TLS files it names can be
 * read; the files themselves are read by envconfig into the options. Registers the API key for
 * redaction from every log line and error.
 */
export function resolveTemporalConnection(env: TemporalEnv): TemporalConnectionSettings {
  const file = configFileOf(env);
  const where = file?.named ?? 'the environment';
  const requested = env.TEMPORAL_PROFILE;
  let fileProfiles: string[] = [];
  if (file) fileProfiles = Object.keys(profilesIn(file).profiles); // a file that does not parse fails here
  if (requested !== undefined) {
    if (!file)
      throw new ConfigError(
        `TEMPORAL_PROFILE=${requested}: there is no Temporal config file to read it from ` +
          `(TEMPORAL_CONFIG_FILE is unset and ${defaultConfigFile(env) ?? 'the default file'} does not exist)`,
        'set TEMPORAL_CONFIG_FILE to the file of profiles, or unset TEMPORAL_PROFILE',
      );
    if (!fileProfiles.includes(requested))
      throw new ConfigError(
        `TEMPORAL_PROFILE: no profile ${JSON.stringify(requested)} in ${file.named}` +
          ` (profiles there: ${fileProfiles.length ? fileProfiles.join(', ') : 'none'})`,
      );
  }
  const profileName = requested ?? 'default';
  const usedProfile = file && fileProfiles.includes(profileName) ? profileName : undefined;

  const overrideEnvVars: Record<string, string> = {};
  for (const name of ENVCONFIG_VARIABLES) {
    const value = env[name];
    if (value !== undefined) overrideEnvVars[name] = value;
  }
  let profile: ClientConfigProfile;
  try {
    // Without TEMPORAL_PROFILE, envconfig takes the file's `default` profile when there is one.
    profile = loadClientConfigProfile({
      ...(file ? { configSource: { path: file.path } } : { disableFile: true }),
      ...(requested ? { profile: requested } : {}),
      overrideEnvVars,
    });
  } catch (err) {
    throw new ConfigError(`Temporal connection settings (${where}): ${(err as Error).message}`);
  }

  const tls = profile.tls;
  const profileField = (name: string) => `profile.${profileName}.tls.${name}_path`;
  const files: TlsFile[] = [
    {
      label: 'client certificate',
      source: tls?.clientCert,
      variable: 'TEMPORAL_TLS_CLIENT_CERT_PATH',
      field: profileField('client_cert'),
    },
    {
      label: 'client key',
      source: tls?.clientKey,
      variable: 'TEMPORAL_TLS_CLIENT_KEY_PATH',
      field: profileField('client_key'),
    },
    {
      label: 'server CA certificate',
      source: tls?.serverCACert,
      variable: 'TEMPORAL_TLS_SERVER_CA_CERT_PATH',
      field: profileField('server_ca_cert'),
    },
  ];
  if (tls && !tls.disabled) {
    if (Boolean(tls.clientCert) !== Boolean(tls.clientKey))
      throw new ConfigError(
        tls.clientCert
          ? `TEMPORAL_TLS_CLIENT_CERT_PATH: a client certificate is set (${where}) without its key: set TEMPORAL_TLS_CLIENT_KEY_PATH too`
          : `TEMPORAL_TLS_CLIENT_KEY_PATH: a client key is set (${where}) without its certificate: set TEMPORAL_TLS_CLIENT_CERT_PATH too`,
      );
    for (const f of files) checkReadable(f, env, where);
  }

  let connect;
  try {
    connect = toClientOptions(profile);
  } catch (err) {
    throw new ConfigError(`Temporal connection settings (${where}): ${(err as Error).message}`);
  }
  const { connectionOptions } = connect;
  registerSecret(profile.apiKey);
  const address = connectionOptions.address ?? DEFAULT_TEMPORAL_ADDRESS;
  const namespace = connect.namespace ?? DEFAULT_TEMPORAL_NAMESPACE;
  const tlsOption = connectionOptions.tls;
  const options: TemporalConnectionOptions = {
    address,
    ...(tlsOption !== undefined ? { tls: tlsOption } : {}),
    ...(connectionOptions.apiKey !== undefined ? { apiKey: connectionOptions.apiKey } : {}),
    ...(connectionOptions.metadata ? { metadata: connectionOptions.metadata } : {}),
  };
  return settingsOf(options, {
    address,
    namespace,
    tls: !tlsOption ? 'off' : typeof tlsOption === 'object' && tlsOption.clientCertPair ? 'mtls' : 'on',
    apiKeySet: connectionOptions.apiKey !== undefined,
    ...(file ? { configFile: file.path } : {}),
    ...(usedProfile ? { profile: usedProfile } : {}),
  });
}

/** Parses the config file, or fails naming it. */
function profilesIn(file: { path: string; named: string }) {
  try {
    return loadClientConfigFromToml(readFileSync(file.path), { strict: false });
  } catch (err) {
    throw new ConfigError(
      `${file.named}: ${(err as Error).message.split('\n')[0] ?? 'invalid TOML'}`,
      'fix the file, or point TEMPORAL_CONFIG_FILE at another',
    );
  }
}

/** The message for a connection that failed: where, how, and how to start a server. */
export function unavailableMessage(settings: TemporalConnectionSettings, err: unknown): string {
  const how =
    settings.summary.tls === 'off' ? '' : settings.summary.tls === 'mtls' ? ' over mTLS' : ' over TLS';
  return (
    `no Temporal server answers at ${settings.address}${how} (${err instanceof Error ? err.message : String(err)}). ` +
    'Start one with `scrapeflow dev` (embedded stack) or `temporal server start-dev`, or set TEMPORAL_ADDRESS' +
    (settings.summary.tls === 'off' ? '.' : ' and check TEMPORAL_TLS_* / TEMPORAL_API_KEY.')
  );
}

/** A client connection; a server that does not answer within 5 s is a `TemporalUnavailableError`. */
export async function connectClientConnection(settings: TemporalConnectionSettings): Promise<Connection> {
  try {
    return await Connection.connect({ ...settings.options, connectTimeout: 5000 });
  } catch (err) {
    throw new TemporalUnavailableError(unavailableMessage(settings, err), { cause: err });
  }
}

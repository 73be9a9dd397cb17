/**
 * The environment → connection mapping every process uses (src/temporal/connection.ts): defaults,
 * TLS files read into the options, the API key, profiles of a TOML config file, and errors that name
 * the variable or the file. Pure: files in a temporary directory, no server.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSConfig } from '@temporalio/common/lib/internal-non-workflow/tls-config.js';
import { loadConfig } from '../../src/config/env.js';
import { redactSecrets } from '../../src/logging/secrets.js';
import { resolveTemporalConnection, type TemporalEnv } from '../../src/temporal/connection.js';
import { ConfigError } from '../../src/errors.js';

let dir: string;
const CERT = '-----BEGIN CERTIFICATE-----\nclient-cert\n-----END CERTIFICATE-----\n';
const KEY = '-----BEGIN PRIVATE KEY-----\nvery-secret-key-material\n-----END PRIVATE KEY-----\n';
const CA = '-----BEGIN CERTIFICATE-----\nca-cert\n-----END CERTIFICATE-----\n';
const path = (name: string) => join(dir, name);
const text = (bytes: Uint8Array | undefined) => Buffer.from(bytes ?? []).toString('utf8');
/** The environment as a process would have it, through `loadConfig` (the one reader of it). */
const resolve = (env: Record<string, string>) => resolveTemporalConnection(loadConfig(env));

function configError(fn: () => unknown, ...patterns: RegExp[]): ConfigError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof ConfigError, `a ConfigError, got ${String(caught)}`);
  for (const p of patterns) assert.match(caught.message, p);
  return caught;
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'scrapeflow-connection-'));
  await writeFile(path('client.pem'), CERT);
  await writeFile(path('client.key'), KEY);
  await writeFile(path('ca.pem'), CA);
  await writeFile(
    path('temporal.toml'),
    `[profile.default]
address = "default.example:7233"

[profile.prod]
address = "prod.example:7233"
namespace = "scrapeflow-prod"
api_key = "prod-api-key-123456"

[profile.mtls]
address = "mtls.example:7233"
namespace = "secure"
[profile.mtls.tls]
client_cert_path = "${path('client.pem')}"
client_key_path = "${path('client.key')}"
server_ca_cert_path = "${path('ca.pem')}"
server_name = "temporal.internal"

[profile.broken]
address = "broken.example:7233"
[profile.broken.tls]
client_cert_path = "${path('missing.pem')}"
client_key_path = "${path('client.key')}"
`,
  );
});
after(() => rm(dir, { recursive: true, force: true }));

describe('Temporal connection from the environment', () => {
  it('nothing configured: 127.0.0.1:7233, namespace default, plaintext, no key', () => {
    const s = resolve({});
    assert.equal(s.address, '127.0.0.1:7233');
    assert.equal(s.namespace, 'default');
    assert.deepEqual(s.options, { address: '127.0.0.1:7233' });
    assert.deepEqual(s.summary, {
      address: '127.0.0.1:7233',
      namespace: 'default',
      tls: 'off',
      apiKeySet: false,
    });
  });

  it('TEMPORAL_ADDRESS / TEMPORAL_NAMESPACE, empty values meaning unset', () => {
    const s = resolve({
      TEMPORAL_ADDRESS: 'temporal:7233',
      TEMPORAL_NAMESPACE: 'prod',
      TEMPORAL_API_KEY: '',
    });
    assert.deepEqual(s.options, { address: 'temporal:7233' });
    assert.equal(s.namespace, 'prod');
  });

  it('mTLS: the certificate, key and CA files are read into the options; the key is never in JSON', () => {
    const s = resolve({
      TEMPORAL_ADDRESS: 'secure.example:7233',
      TEMPORAL_TLS_CLIENT_CERT_PATH: path('client.pem'),
      TEMPORAL_TLS_CLIENT_KEY_PATH: path('client.key'),
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: path('ca.pem'),
      TEMPORAL_TLS_SERVER_NAME: 'temporal.internal',
    });
    const tls = s.options.tls as TLSConfig;
    assert.equal(text(tls.clientCertPair?.crt), CERT);
    assert.equal(text(tls.clientCertPair?.key), KEY);
    assert.equal(text(tls.serverRootCACertificate), CA);
    assert.equal(tls.serverNameOverride, 'temporal.internal');
    assert.equal(s.summary.tls, 'mtls');
    const logged = JSON.stringify({ temporal: s });
    assert.ok(!logged.includes('very-secret-key-material'), logged);
    assert.match(logged, /"tls":"mtls"/);
  });

  it('TEMPORAL_TLS=true: TLS with the system CAs; TEMPORAL_TLS=false: plaintext', () => {
    assert.deepEqual(resolve({ TEMPORAL_TLS: 'true' }).options.tls, {
      serverNameOverride: undefined,
      serverRootCACertificate: undefined,
      clientCertPair: undefined,
    });
    assert.equal(resolve({ TEMPORAL_TLS: 'true' }).summary.tls, 'on');
    assert.equal(resolve({ TEMPORAL_TLS: 'false' }).options.tls, false);
  });

  it('TEMPORAL_API_KEY: sent as the API key, TLS on, redacted from every log line', () => {
    const s = resolve({ TEMPORAL_ADDRESS: 'ns.acct.tmprl.cloud:7233', TEMPORAL_API_KEY: 'tmprl-key-abcdef' });
    assert.equal(s.options.apiKey, 'tmprl-key-abcdef');
    assert.equal(s.options.tls, true);
    assert.deepEqual({ tls: s.summary.tls, apiKeySet: s.summary.apiKeySet }, { tls: 'on', apiKeySet: true });
    assert.ok(!JSON.stringify(s).includes('tmprl-key-abcdef'));
    assert.equal(redactSecrets('auth tmprl-key-abcdef failed'), 'auth [REDACTED] failed');
    // An API key over plaintext, when asked for (a local proxy terminating TLS).
    assert.equal(resolve({ TEMPORAL_API_KEY: 'tmprl-key-abcdef', TEMPORAL_TLS: '0' }).options.tls, false);
  });

  it('a profile of the TOML config file, with the variables over it', () => {
    const prod = resolve({ TEMPORAL_CONFIG_FILE: path('temporal.toml'), TEMPORAL_PROFILE: 'prod' });
    assert.equal(prod.address, 'prod.example:7233');
    assert.equal(prod.namespace, 'scrapeflow-prod');
    assert.equal(prod.options.apiKey, 'prod-api-key-123456');
    assert.equal(prod.summary.profile, 'prod');
    assert.equal(prod.summary.configFile, path('temporal.toml'));
    assert.equal(redactSecrets('prod-api-key-123456'), '[REDACTED]', 'a key from a file is registered too');

    const overridden = resolve({
      TEMPORAL_CONFIG_FILE: path('temporal.toml'),
      TEMPORAL_PROFILE: 'prod',
      TEMPORAL_NAMESPACE: 'other',
    });
    assert.equal(overridden.namespace, 'other');
    assert.equal(overridden.address, 'prod.example:7233');

    const mtls = resolve({ TEMPORAL_CONFIG_FILE: path('temporal.toml'), TEMPORAL_PROFILE: 'mtls' });
    const tls = mtls.options.tls as TLSConfig;
    assert.equal(text(tls.clientCertPair?.key), KEY);
    assert.equal(text(tls.serverRootCACertificate), CA);
    assert.equal(tls.serverNameOverride, 'temporal.internal');
    assert.equal(mtls.namespace, 'secure');
  });

  it('without TEMPORAL_PROFILE: the file’s default profile, from the default location', async () => {
    const configHome = join(dir, 'xdg');
    await mkdir(join(configHome, 'temporalio'), { recursive: true });
    await writeFile(
      join(configHome, 'temporalio', 'temporal.toml'),
      '[profile.default]\nnamespace = "from-file"\n',
    );
    const env: TemporalEnv = { XDG_CONFIG_HOME: configHome };
    const s = resolveTemporalConnection(env);
    assert.equal(s.namespace, 'from-file');
    assert.equal(s.address, '127.0.0.1:7233');
    assert.equal(s.summary.profile, 'default');
    // A file without a default profile is fine when none is asked for.
    await writeFile(join(configHome, 'temporalio', 'temporal.toml'), '[profile.other]\nnamespace = "x"\n');
    assert.equal(resolveTemporalConnection(env).namespace, 'default');
  });

  it('errors name the variable or the file and field', async () => {
    configError(
      () =>
        resolve({
          TEMPORAL_TLS_CLIENT_CERT_PATH: path('nope.pem'),
          TEMPORAL_TLS_CLIENT_KEY_PATH: path('client.key'),
        }),
      /^TEMPORAL_TLS_CLIENT_CERT_PATH: /,
      /nope\.pem does not exist/,
    );
    configError(
      () => resolve({ TEMPORAL_TLS_SERVER_CA_CERT_PATH: path('no-ca.pem') }),
      /^TEMPORAL_TLS_SERVER_CA_CERT_PATH: the server CA certificate .*no-ca\.pem does not exist/,
    );
    configError(
      () => resolve({ TEMPORAL_TLS_CLIENT_CERT_PATH: path('client.pem') }),
      /without its key: set TEMPORAL_TLS_CLIENT_KEY_PATH/,
    );
    const fromFile = configError(
      () => resolve({ TEMPORAL_CONFIG_FILE: path('temporal.toml'), TEMPORAL_PROFILE: 'broken' }),
      /^profile\.broken\.tls\.client_cert_path in TEMPORAL_CONFIG_FILE .*temporal\.toml: /,
      /missing\.pem does not exist/,
    );
    assert.match(fromFile.hint, /fix the profile/);
    configError(
      () => resolve({ TEMPORAL_CONFIG_FILE: path('temporal.toml'), TEMPORAL_PROFILE: 'staging' }),
      /^TEMPORAL_PROFILE: no profile "staging" in TEMPORAL_CONFIG_FILE .*temporal\.toml \(profiles there: default, prod, mtls, broken\)/,
    );
    configError(
      () => resolve({ TEMPORAL_PROFILE: 'prod' }),
      /^TEMPORAL_PROFILE=prod: there is no Temporal config file/,
    );
    configError(
      () => resolve({ TEMPORAL_CONFIG_FILE: path('absent.toml') }),
      /^TEMPORAL_CONFIG_FILE: no file at .*absent\.toml/,
    );
    await writeFile(path('bad.toml'), '[profile.default\naddress = 1\n');
    configError(
      () => resolve({ TEMPORAL_CONFIG_FILE: path('bad.toml') }),
      /^TEMPORAL_CONFIG_FILE .*bad\.toml: /,
    );
    configError(() => loadConfig({ TEMPORAL_TLS: 'yes' }), /TEMPORAL_TLS/);
  });
});

/**
 * The encryption keyring, read from the environment. The first key encrypts; every key decrypts, so
 * an old key stays listed (second) until no history written with it is needed any more.
 */
import { type Config } from '../config/env.js';
import { ConfigError } from '../errors.js';

export type EncryptionConfig = Partial<
  Pick<Config, 'SCRAPEFLOW_ENCRYPTION_KEY' | 'SCRAPEFLOW_ENCRYPTION_KEY_ID' | 'SCRAPEFLOW_ENCRYPTION_KEYS'>
>;

export interface EncryptionKey {
  /** Stored in each payload's metadata; names the key, never reveals it. */
  id: string;
  /** 32 bytes. */
  key: Buffer;
}

const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;
export const DEFAULT_KEY_ID = 'default';

function decodeKey(variable: string, id: string, base64: string): EncryptionKey {
  if (!KEY_ID.test(id))
    throw new ConfigError(`${variable}: key id ${JSON.stringify(id)} must match ${KEY_ID.source}`);
  const trimmed = base64.trim();
  const key = Buffer.from(trimmed, 'base64');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(trimmed) || key.length !== 32)
    throw new ConfigError(
      `${variable}: key ${JSON.stringify(id)} must be base64 of exactly 32 bytes (e.g. \`openssl rand -base64 32\`)`,
    );
  return { id, key };
}

/** The keys configured, encrypting key first; empty when encryption is off. Throws a `ConfigError`. */
export function keyringFromConfig(config: EncryptionConfig): EncryptionKey[] {
  const keys: EncryptionKey[] = [];
  if (config.SCRAPEFLOW_ENCRYPTION_KEY)
    keys.push(
      decodeKey(
        'SCRAPEFLOW_ENCRYPTION_KEY',
        config.SCRAPEFLOW_ENCRYPTION_KEY_ID ?? DEFAULT_KEY_ID,
        config.SCRAPEFLOW_ENCRYPTION_KEY,
      ),
    );
  else if (config.SCRAPEFLOW_ENCRYPTION_KEY_ID)
    throw new ConfigError('SCRAPEFLOW_ENCRYPTION_KEY_ID: set SCRAPEFLOW_ENCRYPTION_KEY too');
  for (const entry of (config.SCRAPEFLOW_ENCRYPTION_KEYS ?? '').split(',')) {
    if (!entry.trim()) continue;
    const colon = entry.indexOf(':');
    if (colon < 0)
      throw new ConfigError('SCRAPEFLOW_ENCRYPTION_KEYS: each entry must be `id:base64` (comma-separated)');
    keys.push(decodeKey('SCRAPEFLOW_ENCRYPTION_KEYS', entry.slice(0, colon).trim(), entry.slice(colon + 1)));
  }
  const ids = new Set<string>();
  for (const { id } of keys) {
    if (ids.has(id))
      throw new ConfigError(`SCRAPEFLOW_ENCRYPTION_KEYS: key id ${JSON.stringify(id)} is listed twice`);
    ids.add(id);
  }
  return keys;
}

/**
 * The one place that turns configuration into a Temporal data converter. Workers, clients and replay
 * workers all call it, so they always agree on how payloads are encoded.
 */
import { fileURLToPath } from 'node:url';
import type { DataConverter } from '@temporalio/common';
import { EncryptionCodec } from './encryption-codec.js';
import { keyringFromConfig, type EncryptionConfig } from './keys.js';

/** Compiled from failure-converter.cts. */
export const FAILURE_CONVERTER_PATH = fileURLToPath(new URL('./failure-converter.cjs', import.meta.url));

/** The codec for the configured keys, or undefined when encryption is off. */
export function codecFromConfig(config: EncryptionConfig): EncryptionCodec | undefined {
  const keys = keyringFromConfig(config);
  return keys.length ? new EncryptionCodec(keys) : undefined;
}

/** The data converter for the configuration: the default one when encryption is off. */
export function dataConverterFromConfig(config: EncryptionConfig): DataConverter {
  const codec = codecFromConfig(config);
  return codec ? encryptedDataConverter(codec) : {};
}

export function encryptedDataConverter(codec: EncryptionCodec): DataConverter {
  return { payloadCodecs: [codec], failureConverterPath: FAILURE_CONVERTER_PATH };
}

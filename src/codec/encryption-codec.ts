/**
 * AES-256-GCM payload encryption as a Temporal `PayloadCodec`.
 *
 * An encrypted payload has metadata `encoding: binary/encrypted`, `encryption-cipher: AES-256-GCM` and
 * `encryption-key-id: <id>`; its data is nonce (12 bytes) + ciphertext + tag (16 bytes) of the whole
 * original payload (metadata and data, protobuf-encoded). The key id is authenticated too. Payloads
 * that are not encrypted pass through `decode` unchanged, so histories written before encryption was
 * turned on stay readable.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { Payload, PayloadCodec } from '@temporalio/common';
import proto from '@temporalio/proto';
import type { EncryptionKey } from './keys.js';

const { Payload: PayloadMessage } = proto.temporal.api.common.v1;

export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const CIPHER = 'AES-256-GCM';
export const METADATA = {
  encoding: 'encoding',
  keyId: 'encryption-key-id',
  cipher: 'encryption-cipher',
} as const;

const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const utf8 = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array | null | undefined) => (b ? Buffer.from(b).toString('utf8') : undefined);

/** A payload that cannot be decrypted: unknown key id, tampered or truncated data. */
export class PayloadDecryptionError extends Error {
  override readonly name = 'PayloadDecryptionError';
  readonly code = 'payload_decryption';
}

export class EncryptionCodec implements PayloadCodec {
  readonly #encryptWith: EncryptionKey;
  readonly #byId: Map<string, Buffer>;

  /** `keys[0]` encrypts; every key decrypts. */
  constructor(keys: readonly EncryptionKey[]) {
    const first = keys[0];
    if (!first) throw new Error('EncryptionCodec needs at least one key');
    this.#encryptWith = first;
    this.#byId = new Map(keys.map((k) => [k.id, k.key]));
  }

  /** The id of the key new payloads are encrypted with. */
  get keyId(): string {
    return this.#encryptWith.id;
  }

  encode(payloads: Payload[]): Promise<Payload[]> {
    return Promise.resolve().then(() => payloads.map((p) => this.#encrypt(p)));
  }

  decode(payloads: Payload[]): Promise<Payload[]> {
    return Promise.resolve().then(() => payloads.map((p) => this.#decrypt(p)));
  }

  #encrypt(payload: Payload): Payload {
    const { id, key } = this.#encryptWith;
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key, nonce);
    cipher.setAAD(Buffer.from(id, 'utf8'));
    const plain = PayloadMessage.encode(payload).finish();
    const sealed = Buffer.concat([nonce, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
    return {
      metadata: {
        [METADATA.encoding]: utf8(ENCRYPTED_ENCODING),
        [METADATA.cipher]: utf8(CIPHER),
        [METADATA.keyId]: utf8(id),
      },
      data: sealed,
    };
  }

  #decrypt(payload: Payload): Payload {
    if (text(payload.metadata?.[METADATA.encoding]) !== ENCRYPTED_ENCODING) return payload;
    const id = text(payload.metadata?.[METADATA.keyId]) ?? '';
    const key = this.#byId.get(id);
    if (!key)
      throw new PayloadDecryptionError(
        `payload encrypted with key id ${JSON.stringify(id)}, which is not configured (SCRAPEFLOW_ENCRYPTION_KEYS)`,
      );
    const data = Buffer.from(payload.data ?? new Uint8Array());
    if (data.length < NONCE_BYTES + TAG_BYTES)
      throw new PayloadDecryptionError('encrypted payload is truncated');
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, NONCE_BYTES));
      decipher.setAAD(Buffer.from(id, 'utf8'));
      decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
      const plain = Buffer.concat([
        decipher.update(data.subarray(NONCE_BYTES, data.length - TAG_BYTES)),
        decipher.final(),
      ]);
      return PayloadMessage.decode(plain);
    } catch (err) {
      throw new PayloadDecryptionError(
        `encrypted payload (key id ${JSON.stringify(id)}) failed authentication`,
        {
          cause: err,
        },
      );
    }
  }
}

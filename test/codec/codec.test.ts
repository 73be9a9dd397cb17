import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { loadDataConverter } from '@temporalio/common/lib/internal-non-workflow/index.js';
import { ApplicationFailure } from '@temporalio/common';
import { keyringFromConfig } from '../../src/codec/keys.js';
import {
  ENCRYPTED_ENCODING,
  EncryptionCodec,
  PayloadDecryptionError,
} from '../../src/codec/encryption-codec.js';
import { encryptedDataConverter } from '../../src/codec/data-converter.js';
import { startCodecServer } from '../../src/codec/server.js';
import { Authenticator } from '../../src/auth/authenticator.js';
import { containsText } from '../support/stack.js';
import { ConfigError } from '../../src/errors.js';

const ADMIN = randomBytes(24).toString('hex');
const b64 = () => randomBytes(32).toString('base64');
const SECRET_URL = 'https://shop.example/p/secret-sku-42';
const payload = (value: unknown): Payload => defaultPayloadConverter.toPayload(value);
const text = (p: Payload, key: string) => Buffer.from(p.metadata?.[key] ?? []).toString('utf8');

describe('encryption keyring from the environment', () => {
  it('reads one key with its id, and a rotation list, encrypting key first', () => {
    const [k1, k2, k3] = [b64(), b64(), b64()];
    const keys = keyringFromConfig({
      SCRAPEFLOW_ENCRYPTION_KEY: k1,
      SCRAPEFLOW_ENCRYPTION_KEY_ID: 'k1',
      SCRAPEFLOW_ENCRYPTION_KEYS: `k2:${k2}, k3:${k3}`,
    });
    assert.deepEqual(
      keys.map((k) => k.id),
      ['k1', 'k2', 'k3'],
    );
    assert.equal(keyringFromConfig({ SCRAPEFLOW_ENCRYPTION_KEY: k1 })[0]?.id, 'default');
    assert.deepEqual(keyringFromConfig({}), []);
  });

  it('names the variable for a short key, a bad entry, a duplicate id', () => {
    const short = randomBytes(16).toString('base64');
    assert.throws(
      () => keyringFromConfig({ SCRAPEFLOW_ENCRYPTION_KEY: short }),
      (e: unknown) => {
        assert.ok(e instanceof ConfigError);
        assert.match(e.message, /SCRAPEFLOW_ENCRYPTION_KEY: .*32 bytes/);
        assert.ok(!e.message.includes(short), 'the key itself is never echoed');
        return true;
      },
    );
    assert.throws(() => keyringFromConfig({ SCRAPEFLOW_ENCRYPTION_KEYS: b64() }), /id:base64/);
    const k = b64();
    assert.throws(() => keyringFromConfig({ SCRAPEFLOW_ENCRYPTION_KEYS: `a:${k},a:${k}` }), /listed twice/);
  });
});

describe('EncryptionCodec (AES-256-GCM)', () => {
  const [old, current] = [
    { id: 'old', key: randomBytes(32) },
    { id: 'new', key: randomBytes(32) },
  ];

  it('round-trips payloads; the encoded form has no plaintext and names its key', async () => {
    const codec = new EncryptionCodec([current, old]);
    const original = [payload({ url: SECRET_URL }), payload('content <h1>Product 42</h1>')];
    const encoded = await codec.encode(original);
    assert.equal(text(encoded[0]!, 'encoding'), ENCRYPTED_ENCODING);
    assert.equal(text(encoded[0]!, 'encryption-key-id'), 'new');
    assert.equal(containsText(encoded, 'secret-sku'), false);
    assert.equal(containsText(encoded, 'Product 42'), false);
    const decoded = await codec.decode(encoded);
    assert.deepEqual(defaultPayloadConverter.fromPayload(decoded[0]!), { url: SECRET_URL });
    assert.equal(defaultPayloadConverter.fromPayload(decoded[1]!), 'content <h1>Product 42</h1>');
  });

  it('rotates: payloads of the old key decode while it is listed, and fail by name once removed', async () => {
    const encodedOld = await new EncryptionCodec([old]).encode([payload(SECRET_URL)]);
    const rotated = new EncryptionCodec([current, old]);
    assert.equal(defaultPayloadConverter.fromPayload((await rotated.decode(encodedOld))[0]!), SECRET_URL);
    await assert.rejects(new EncryptionCodec([current]).decode(encodedOld), (e: unknown) => {
      assert.ok(e instanceof PayloadDecryptionError);
      assert.match(e.message, /key id "old"/);
      return true;
    });
  });

  it('rejects tampered data and passes unencrypted payloads through', async () => {
    const codec = new EncryptionCodec([current]);
    const [sealed] = await codec.encode([payload(SECRET_URL)]);
    const data = Buffer.from(sealed!.data!);
    data[20] = (data[20] ?? 0) ^ 1;
    await assert.rejects(codec.decode([{ ...sealed, data }]), PayloadDecryptionError);
    const plain = payload('legacy');
    assert.deepEqual(await codec.decode([plain]), [plain]);
  });

  it('the data converter loads (failure converter via require) and encodes failure messages', () => {
    const loaded = loadDataConverter(encryptedDataConverter(new EncryptionCodec([current])));
    const failure = loaded.failureConverter.errorToFailure(
      ApplicationFailure.create({ message: `could not scrape ${SECRET_URL}` }),
      loaded.payloadConverter,
    );
    assert.equal(failure.message, 'Encoded failure');
    assert.ok(failure.encodedAttributes, 'message and stack travel as a payload, which the codec encrypts');
    assert.equal(loaded.payloadCodecs.length, 1);
  });
});

describe('codec server', () => {
  it('decodes and encodes per the remote codec protocol, with CORS for the Web UI only', async (t) => {
    const codec = new EncryptionCodec([{ id: 'k', key: randomBytes(32) }]);
    const server = await startCodecServer({
      codec,
      auth: new Authenticator({ adminToken: ADMIN }),
      port: 0,
      corsOrigins: ['http://localhost:8233'],
    });
    t.after(() => server.close());
    const [sealed] = await codec.encode([payload({ url: SECRET_URL })]);
    const json = {
      payloads: [
        {
          metadata: Object.fromEntries(
            Object.entries(sealed!.metadata!).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
          ),
          data: Buffer.from(sealed!.data!).toString('base64'),
        },
      ],
    };
    const res = await fetch(`${server.url}/some/prefix/decode`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-namespace': 'default',
        origin: 'http://localhost:8233',
        authorization: `Bearer ${ADMIN}`,
      },
      body: JSON.stringify(json),
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('access-control-allow-origin'), 'http://localhost:8233');
    const out = (await res.json()) as { payloads: { metadata: Record<string, string>; data: string }[] };
    assert.equal(Buffer.from(out.payloads[0]!.metadata.encoding!, 'base64').toString(), 'json/plain');
    assert.deepEqual(JSON.parse(Buffer.from(out.payloads[0]!.data, 'base64').toString()), {
      url: SECRET_URL,
    });

    const encoded = await fetch(`${server.url}/encode`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN}` },
      body: JSON.stringify(out),
    });
    const reencoded = (await encoded.json()) as typeof out;
    assert.equal(
      Buffer.from(reencoded.payloads[0]!.metadata.encoding!, 'base64').toString(),
      ENCRYPTED_ENCODING,
    );

    const preflight = await fetch(`${server.url}/decode`, {
      method: 'OPTIONS',
      headers: {
        origin: 'http://localhost:8233',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type,x-namespace',
      },
    });
    assert.equal(preflight.status, 204);
    assert.match(preflight.headers.get('access-control-allow-headers') ?? '', /x-namespace/);
    const foreign = await fetch(`${server.url}/decode`, {
      method: 'OPTIONS',
      headers: { origin: 'http://evil.test' },
    });
    assert.equal(foreign.status, 403);
    const bad = await fetch(`${server.url}/decode`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN}` },
      body: JSON.stringify({ payloads: 'nope' }),
    });
    assert.equal(bad.status, 400);
    assert.match(((await bad.json()) as { error: string }).error, /^payloads:/);
  });
});

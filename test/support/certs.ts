/**
 * Certificates for mTLS tests, made with the `openssl` CLI in a temporary directory: a CA, a server
 * certificate (SAN 127.0.0.1 and localhost, usable for serverAuth and clientAuth, since the Temporal
 * server's own system worker presents it to the frontend) and a client certificate, all signed by the
 * CA, under the names `scrapeflow cluster up --tls DIR` reads. Plus a second CA's client certificate, which
 * the server must refuse.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface TestCerts {
  /** Holds ca.pem, ca-key.pem, server.pem, server-key.pem, client.pem, client-key.pem. */
  dir: string;
  ca: Buffer;
  client: { crt: Buffer; key: Buffer };
  /** A client certificate from another CA (the server must refuse it). */
  stranger: { crt: Buffer; key: Buffer };
  remove(): Promise<void>;
}

async function openssl(cwd: string, args: string[]): Promise<void> {
  try {
    await run('openssl', args, { cwd });
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? '';
    throw new Error(`openssl ${args[0]} failed: ${stderr || String(err)}`);
  }
}

/** Makes a CA and a key pair `<name>.pem` / `<name>-key.pem` signed by `ca` with the extensions given. */
async function signed(cwd: string, name: string, cn: string, ca: string, extensions: string[]) {
  await writeFile(join(cwd, `${name}.ext`), `${extensions.join('\n')}\n`);
  await openssl(cwd, [
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    `${name}-key.pem`,
    '-out',
    `${name}.csr`,
    '-subj',
    `/CN=${cn}`,
  ]);
  await openssl(cwd, [
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    `${ca}.pem`,
    '-CAkey',
    `${ca}-key.pem`,
    '-CAcreateserial',
    '-days',
    '2',
    '-sha256',
    '-extfile',
    `${name}.ext`,
    '-out',
    `${name}.pem`,
  ]);
}

async function makeCa(cwd: string, name: string, cn: string) {
  await openssl(cwd, [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    `${name}-key.pem`,
    '-out',
    `${name}.pem`,
    '-days',
    '2',
    '-subj',
    `/CN=${cn}`,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
}

export async function makeTestCerts(): Promise<TestCerts> {
  const dir = await mkdtemp(join(tmpdir(), 'scrapeflow-certs-'));
  await makeCa(dir, 'ca', 'scrapeflow test CA');
  await makeCa(dir, 'other-ca', 'another CA');
  const leaf = ['basicConstraints=CA:FALSE', 'keyUsage=critical,digitalSignature,keyEncipherment'];
  await signed(dir, 'server', 'localhost', 'ca', [
    ...leaf,
    'extendedKeyUsage=serverAuth,clientAuth',
    'subjectAltName=IP:127.0.0.1,DNS:localhost',
  ]);
  await signed(dir, 'client', 'scrapeflow client', 'ca', [...leaf, 'extendedKeyUsage=clientAuth']);
  await signed(dir, 'stranger', 'stranger', 'other-ca', [...leaf, 'extendedKeyUsage=clientAuth']);
  const read = (name: string) => readFile(join(dir, name));
  return {
    dir,
    ca: await read('ca.pem'),
    client: { crt: await read('client.pem'), key: await read('client-key.pem') },
    stranger: { crt: await read('stranger.pem'), key: await read('stranger-key.pem') },
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

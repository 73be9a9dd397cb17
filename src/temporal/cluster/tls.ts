/** `cluster up`'s mTLS: who may listen beyond loopback, the certificate files and the names they carry. */
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { type TLSConfig } from '@temporalio/client';
import { TLS_FILES } from '../defaults.js';
import { ClusterConfigError } from '../../errors.js';

/** 127.0.0.0/8, ::1 and `localhost`: addresses only this host reaches. */
export function isLoopback(ip: string): boolean {
  return ip === 'localhost' || ip === '::1' || /^127(\.\d{1,3}){3}$/.test(ip);
}

/**
 * Refuses a frontend that other hosts reach without mTLS: the server runs `--allow-no-auth`, so anyone
 * who reaches the port could read every history and start or terminate workflows.
 */
export function checkListenAddress(ip: string, tlsDir: string | undefined): void {
  if (tlsDir || isLoopback(ip)) return;
  throw new ClusterConfigError(
    `--ip ${ip} without --tls would open Temporal to the network with no authentication (anyone who reaches ` +
      'the port reads histories and starts or terminates workflows): add --tls <dir> (mTLS certificates), ' +
      'or keep the default --ip 127.0.0.1',
  );
}

export interface TlsFiles {
  /** The name clients on this host check the server's certificate against (see `certificateName`). */
  serverName: string;
  ca: string;
  cert: string;
  key: string;
  clientCert: string;
  clientKey: string;
}

export function tlsFiles(dir: string): TlsFiles {
  const abs = resolve(dir);
  const path = (name: string) => join(abs, name);
  for (const name of [TLS_FILES.ca, TLS_FILES.cert, TLS_FILES.key])
    if (!existsSync(path(name)))
      throw new ClusterConfigError(
        `--tls ${dir}: no ${name} (the directory must hold ${TLS_FILES.ca}, ${TLS_FILES.cert} and ${TLS_FILES.key})`,
      );
  const ownClient = existsSync(path(TLS_FILES.clientCert)) && existsSync(path(TLS_FILES.clientKey));
  return {
    serverName: certificateName(path(TLS_FILES.cert), dir),
    ca: path(TLS_FILES.ca),
    cert: path(TLS_FILES.cert),
    key: path(TLS_FILES.key),
    clientCert: path(ownClient ? TLS_FILES.clientCert : TLS_FILES.cert),
    clientKey: path(ownClient ? TLS_FILES.clientKey : TLS_FILES.key),
  };
}

/**
 * The name the server's own system worker (and the ready check) verify the frontend's certificate
 * against when they dial 127.0.0.1: `localhost` when the certificate names it, else its first DNS name,
 * else 127.0.0.1 when it has that IP, else its CN. Go's TLS client refuses to dial without a name ("either
 * ServerName or InsecureSkipVerify must be specified").
 */
function certificateName(certFile: string, dir: string): string {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(readFileSync(certFile));
  } catch (err) {
    throw new ClusterConfigError(
      `--tls ${dir}: ${TLS_FILES.cert} is not a PEM certificate (${err instanceof Error ? err.message : String(err)})`,
    );
  }
  const names = (cert.subjectAltName ?? '').split(/,\s*/).filter(Boolean);
  const dns = names.filter((n) => n.startsWith('DNS:')).map((n) => n.slice(4));
  if (dns.includes('localhost')) return 'localhost';
  if (dns[0]) return dns[0];
  if (names.includes('IP Address:127.0.0.1')) return '127.0.0.1';
  const cn = /(?:^|\n)CN=([^\n]+)/.exec(cert.subject)?.[1];
  if (!cn) throw new ClusterConfigError(`--tls ${dir}: ${TLS_FILES.cert} names no host (no SAN, no CN)`);
  return cn;
}

export async function clientTlsConfig(tls: TlsFiles): Promise<TLSConfig> {
  const [ca, crt, key] = await Promise.all([
    readFile(tls.ca),
    readFile(tls.clientCert),
    readFile(tls.clientKey),
  ]);
  return { serverRootCACertificate: ca, clientCertPair: { crt, key }, serverNameOverride: tls.serverName };
}

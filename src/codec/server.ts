/**
 * A codec server (Temporal's remote codec protocol): `POST .../encode` and `POST .../decode` take and
 * return `{ payloads: [{ metadata: { key: base64 }, data: base64 }] }` (protobuf JSON). The Temporal
 * Web UI and `temporal workflow show --codec-endpoint` call it to show decrypted payloads to an
 * operator who runs it with the key. Only the last path segment is looked at, so it can be mounted
 * at any depth.
 *
 * It decrypts any account's payloads, so it takes admin tokens only (`Authorization: Bearer`: a token
 * of `scrapeflow tokens create --admin`, or SCRAPEFLOW_API_TOKEN). A `Host` it was not configured for
 * is refused (a DNS-rebinding page reaches it under its own name), and so is an `Origin` other than the
 * Web UI's; CORS answers that origin only. Preflights (which browsers send without credentials) need
 * no token, only the right Host and Origin.
 */
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { z } from 'zod';
import type { Authenticator } from '../auth/authenticator.js';
import type { Logger } from '../logging/logger.js';
import { DEFAULT_ALLOWED_HOSTS, DEFAULT_CORS_ORIGINS } from './cors.js';

export interface CodecServerOptions {
  codec: PayloadCodec;
  /** Resolves the bearer token; only admin principals are served. */
  auth: Authenticator;
  /**
   * Host names (`Host` without its port) the server answers to.
   * @default DEFAULT_ALLOWED_HOSTS (loopback names)
   */
  allowedHosts?: string[];
  logger?: Logger;
  /**
   * Browser origins allowed to call the server (the Temporal Web UI), e.g. `http://localhost:8233`.
   * @default DEFAULT_CORS_ORIGINS
   */
  corsOrigins?: string[];
  /** Largest request body, bytes. @default 20 MiB */
  bodyLimitBytes?: number;
}

const base64 = z.string().regex(/^[A-Za-z0-9+/_-]*={0,2}$/, 'must be base64');
const bodySchema = z.object({
  payloads: z.array(
    z.object({
      metadata: z.record(z.string(), base64).nullish(),
      data: base64.nullish(),
    }),
  ),
});
type JsonPayload = z.infer<typeof bodySchema>['payloads'][number];

const fromJson = (p: JsonPayload): Payload => ({
  metadata: Object.fromEntries(
    Object.entries(p.metadata ?? {}).map(([k, v]) => [k, new Uint8Array(Buffer.from(v, 'base64'))]),
  ),
  data: new Uint8Array(Buffer.from(p.data ?? '', 'base64')),
});

const toJson = (p: Payload) => ({
  metadata: Object.fromEntries(
    Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
  ),
  data: Buffer.from(p.data ?? new Uint8Array()).toString('base64'),
});

/** The name of a `Host` header without its port (`[::1]` keeps its brackets). */
function hostName(host: string | undefined): string {
  const value = (host ?? '').toLowerCase();
  return value.startsWith('[') ? value.slice(0, value.indexOf(']') + 1) : (value.split(':')[0] ?? '');
}

export async function buildCodecServer(options: CodecServerOptions): Promise<FastifyInstance> {
  const origins = new Set(options.corsOrigins ?? DEFAULT_CORS_ORIGINS);
  const hosts = new Set((options.allowedHosts ?? DEFAULT_ALLOWED_HOSTS).map((h) => h.toLowerCase()));
  const app = Fastify({ bodyLimit: options.bodyLimitBytes ?? 20 * 1024 * 1024, logger: false });

  app.addHook('onRequest', async (request, reply) => {
    if (!hosts.has(hostName(request.headers.host)))
      return reply
        .code(403)
        .send({ error: `host ${JSON.stringify(request.headers.host ?? '')} not allowed` });
    const origin = request.headers.origin;
    if (origin !== undefined && !origins.has(origin))
      return reply.code(403).send({ error: `origin ${JSON.stringify(origin)} not allowed` });
    if (origin) {
      void reply.header('access-control-allow-origin', origin);
      void reply.header('access-control-allow-credentials', 'true');
      void reply.header('vary', 'origin');
    }
    if (request.method === 'OPTIONS') return;
    const principal = await options.auth.principalOf(request.headers.authorization);
    if (!principal)
      return reply
        .code(401)
        .header('www-authenticate', 'Bearer')
        .send({ error: 'send Authorization: Bearer <admin token>' });
    if (!principal.admin)
      return reply.code(403).send({
        error: `token ${JSON.stringify(principal.name)} is scoped to accounts: the codec server decrypts every account's payloads, so it takes an admin token`,
      });
  });

  app.options('/*', async (request, reply) => {
    if (!request.headers.origin) return reply.code(403).send({ error: 'a preflight needs an Origin' });
    return reply
      .code(204)
      .header('access-control-allow-methods', 'POST, OPTIONS')
      .header('access-control-allow-headers', 'content-type, x-namespace, authorization')
      .header('access-control-max-age', '600')
      .send();
  });

  async function handle(request: FastifyRequest, reply: FastifyReply) {
    const last = request.url.split('?')[0]?.split('/').filter(Boolean).pop();
    if (last !== 'encode' && last !== 'decode')
      return reply.code(404).send({ error: 'use /encode or /decode' });
    const parsed = bodySchema.safeParse(request.body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return reply
        .code(400)
        .send({ error: `${issue?.path.join('.') || 'body'}: ${issue?.message ?? 'is invalid'}` });
    }
    const payloads = parsed.data.payloads.map(fromJson);
    try {
      const out =
        last === 'encode' ? await options.codec.encode(payloads) : await options.codec.decode(payloads);
      return reply.send({ payloads: out.map(toJson) });
    } catch (err) {
      options.logger?.warn({ err, op: last }, 'codec server could not process payloads');
      return reply.code(400).send({ error: err instanceof Error ? err.message : String(err) });
    }
  }
  app.post('/*', handle);
  return app;
}

export interface RunningCodecServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

export async function startCodecServer(
  options: CodecServerOptions & {
    /** @default 127.0.0.1 */
    host?: string;
    /** 0 picks a free port. @default 8888 */
    port?: number;
  },
): Promise<RunningCodecServer> {
  const host = options.host ?? '127.0.0.1';
  // The interface it listens on is a name it answers to (a wildcard is not a name).
  const named = host === '0.0.0.0' || host === '::' ? [] : [host.includes(':') ? `[${host}]` : host];
  const app = await buildCodecServer({
    ...options,
    allowedHosts: options.allowedHosts ?? [...DEFAULT_ALLOWED_HOSTS, ...named],
  });
  await app.listen({ host, port: options.port ?? 8888 });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : (options.port ?? 8888);
  return { url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`, port, close: () => app.close() };
}

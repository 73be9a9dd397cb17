import type { Command } from 'commander';
import type { Authenticator } from '../../auth/authenticator.js';
import type { EncryptionCodec } from '../../codec/encryption-codec.js';
import type { Logger } from '../../logging/logger.js';
import { DEFAULT_ALLOWED_HOSTS, DEFAULT_CORS_ORIGINS } from '../../codec/cors.js';
import { loadConfig } from '../../config/env.js';
import { CliError, ExitCode } from '../exit.js';
import { intOption } from '../context.js';
import { untilSignal } from '../signals.js';

const collect = (value: string, previous: string[] | undefined) => [...(previous ?? []), value];

/** `scrapeflow codec-server`: decrypts payloads for the Temporal Web UI, until SIGINT or SIGTERM. */
export function registerCodecServer(program: Command): void {
  program
    .command('codec-server')
    .description('serve /encode and /decode (Temporal codec protocol) with the configured encryption keys')
    .option('--port <port>', 'TCP port (0 picks a free one)', intOption('--port', 0, 65_535), 8888)
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .option(
      '--cors-origin <origin>',
      `a Web UI origin allowed to call it (repeatable; default ${DEFAULT_CORS_ORIGINS.join(', ')})`,
      collect,
    )
    .option(
      '--allowed-host <name>',
      `a Host name it answers to (repeatable; default ${DEFAULT_ALLOWED_HOSTS.join(', ')} and --host)`,
      collect,
    )
    .addHelpText(
      'after',
      `
Keys come from SCRAPEFLOW_ENCRYPTION_KEY (+ SCRAPEFLOW_ENCRYPTION_KEY_ID) and/or
SCRAPEFLOW_ENCRYPTION_KEYS=id1:base64,id2:base64. Every request needs an admin token
(Authorization: Bearer <token>: scrapeflow tokens create --admin, or SCRAPEFLOW_API_TOKEN).
The Temporal CLI sends the token from TEMPORAL_CODEC_AUTH='Bearer <token>' (an environment
variable keeps it out of the process list). The Web UI sends no scrapeflow token of its own: point
its codec endpoint (Data Encoder settings, or the dev server's --ui-codec-endpoint) at a proxy in
front of this server that adds the admin token.`,
    )
    .action(async (flags: Flags) => {
      const [{ codecFromConfig }, { createLogger }, { openStore }, { openAuthenticator }] = await Promise.all(
        [
          import('../../codec/data-converter.js'),
          import('../../logging/logger.js'),
          import('../../store/index.js'),
          import('../../auth/open.js'),
        ],
      );
      const config = loadConfig();
      const codec = codecFromConfig(config);
      if (!codec)
        throw new CliError(
          'no encryption key: set SCRAPEFLOW_ENCRYPTION_KEY or SCRAPEFLOW_ENCRYPTION_KEYS',
          ExitCode.usage,
        );
      const logger = createLogger({ name: 'codec-server' });
      // The store holds the tokens it checks requests against.
      const store = await openStore(config);
      try {
        await serve(codec, await openAuthenticator(config, store, logger), logger, flags);
      } finally {
        await store.close();
      }
    });
}

interface Flags {
  port: number;
  host: string;
  corsOrigin?: string[];
  allowedHost?: string[];
}

async function serve(
  codec: EncryptionCodec,
  auth: Authenticator,
  logger: Logger,
  flags: Flags,
): Promise<void> {
  const { startCodecServer } = await import('../../codec/server.js');
  const server = await startCodecServer({
    codec,
    auth,
    logger,
    host: flags.host,
    port: flags.port,
    ...(flags.corsOrigin ? { corsOrigins: flags.corsOrigin } : {}),
    ...(flags.allowedHost ? { allowedHosts: flags.allowedHost } : {}),
  });
  try {
    process.stdout.write(`codec server listening on ${server.url} (encrypting key id ${codec.keyId})\n`);
    const signal = await untilSignal();
    logger.info({ signal }, 'codec server shutting down');
  } finally {
    await server.close();
  }
}

import type { Command } from 'commander';
import { DEFAULT_CORS_ORIGINS } from '../../codec/cors.js';
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
    .addHelpText(
      'after',
      `
Keys come from SCRAPEFLOW_ENCRYPTION_KEY (+ SCRAPEFLOW_ENCRYPTION_KEY_ID) and/or
SCRAPEFLOW_ENCRYPTION_KEYS=id1:base64,id2:base64. In the Web UI, set the codec endpoint
(Data Encoder settings) to the URL printed here; or start the dev server with
--ui-codec-endpoint <url>.`,
    )
    .action(async (flags: { port: number; host: string; corsOrigin?: string[] }) => {
      const [{ codecFromConfig }, { startCodecServer }, { createLogger }] = await Promise.all([
        import('../../codec/data-converter.js'),
        import('../../codec/server.js'),
        import('../../logging/logger.js'),
      ]);
      const codec = codecFromConfig(loadConfig());
      if (!codec)
        throw new CliError(
          'no encryption key: set SCRAPEFLOW_ENCRYPTION_KEY or SCRAPEFLOW_ENCRYPTION_KEYS',
          ExitCode.usage,
        );
      const logger = createLogger({ name: 'codec-server' });
      const server = await startCodecServer({
        codec,
        logger,
        host: flags.host,
        port: flags.port,
        ...(flags.corsOrigin ? { corsOrigins: flags.corsOrigin } : {}),
      });
      try {
        process.stdout.write(`codec server listening on ${server.url} (encrypting key id ${codec.keyId})\n`);
        const signal = await untilSignal();
        logger.info({ signal }, 'codec server shutting down');
      } finally {
        await server.close();
      }
    });
}

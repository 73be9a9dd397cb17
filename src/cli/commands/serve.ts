import type { Command } from 'commander';
import { intOption, say } from '../context.js';
import { CliError, ExitCode } from '../exit.js';
import { untilSignal } from '../signals.js';

/** `scrapeflow serve`: the HTTP service until SIGINT/SIGTERM, then a graceful close. */
export function registerServe(program: Command): void {
  program
    .command('serve')
    .description(
      'run the HTTP service (bearer tokens: SCRAPEFLOW_API_TOKEN, admin, and those of `scrapeflow tokens`); GET /openapi.json describes it',
    )
    .option('--port <port>', 'TCP port (0 picks a free one)', intOption('--port', 0, 65_535), 8787)
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .action(async (flags: { port: number; host: string }) => {
      let service;
      try {
        const [{ loadConfig }, { createLogger }, { startService }] = await Promise.all([
          import('../../config/env.js'),
          import('../../logging/logger.js'),
          import('../../service/server.js'),
        ]);
        service = await startService({
          config: loadConfig(),
          logger: createLogger({ name: 'service' }),
          host: flags.host,
          port: flags.port,
        });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE')
          throw new CliError(`port ${flags.port} is in use: pick another with --port`, ExitCode.unavailable);
        throw err;
      }
      try {
        say(`scrapeflow service listening on ${service.url} (OpenAPI: ${service.url}/openapi.json)`);
        await untilSignal();
      } finally {
        await service.close();
      }
    });
}

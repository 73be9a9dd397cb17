/**
 * The one pino logger. Every process creates it once; child loggers carry batchId / url.
 * Secrets are redacted here, in one place: known header and field paths are censored by pino, and
 * every registered secret string (see `registerSecret`) is scrubbed from each serialised line, and a
 * `url` field (a scraped URL) loses its `user:pass@`.
 */
import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import { redactSecrets } from './secrets.js';
import { withoutCredentials } from './url-credentials.js';

export type { Logger } from 'pino';

const REDACT_PATHS = [
  'apiKey',
  'key',
  'token',
  'adminToken',
  'headers["x-api-key"]',
  'headers.authorization',
  'req.headers["x-api-key"]',
  'req.headers.authorization',
  '*.apiKey',
  '*.token',
];

export interface CreateLoggerOptions {
  /** Logger name, e.g. `scrape-worker` (a worker process: its roles joined, `workflows-scrape-worker`). */
  name: string;
  /** pino level. @default process.env.LOG_LEVEL ?? 'info' */
  level?: string;
  /** Where lines go. @default stdout */
  destination?: DestinationStream;
}

/** A destination wrapper that scrubs registered secrets from each line before it is written. */
function scrubbing(destination: DestinationStream): DestinationStream {
  return { write: (line: string) => destination.write(redactSecrets(line)) };
}

export function createLogger(options: CreateLoggerOptions): Logger {
  const loggerOptions: LoggerOptions = {
    name: options.name,
    level: options.level ?? process.env.LOG_LEVEL ?? 'info',
    redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
    serializers: { url: (url: unknown) => (typeof url === 'string' ? withoutCredentials(url) : url) },
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return pino(loggerOptions, scrubbing(options.destination ?? pino.destination({ dest: 1, sync: false })));
}

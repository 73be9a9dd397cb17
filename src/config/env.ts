/**
 * Configuration from environment variables, validated once at process start with errors that name the
 * variable. Every process reads its settings through `loadConfig`; nothing else reads `process.env`
 * for settings.
 */
import { z } from 'zod';
import { ConfigError } from '../errors.js';
import { DEFAULT_PLAN } from '../batch/defaults.js';
import { registerUrlPassword } from '../logging/url-credentials.js';
import { allowListProblem } from '../webhooks/ssrf.js';

/** BaaS sessions an account may hold open at once when its configuration does not say. */
export const DEFAULT_BROWSER_SESSIONS = 2;

const intFrom = (min: number, fallback: number) => z.coerce.number().int().min(min).default(fallback);

const envSchema = z.object({
  /** Base URL of the OmniScrape API. @default https://api.omniscrape.io/v1 */
  OMNISCRAPE_API_URL: z.url().default('https://api.omniscrape.io/v1'),
  /** The API key of account `default`, sent as `X-API-Key`. Only workers need it. */
  OMNISCRAPE_KEY: z.string().min(1).optional(),
  /**
   * JSON file of the deployment's OmniScrape accounts beyond `default` (label → plan and where its key
   * is; src/config/accounts.ts). Workers map a batch's `account` label to its key and plan with it;
   * clients refuse to start a batch under a label it does not list.
   */
  SCRAPEFLOW_ACCOUNTS_FILE: z.string().min(1).optional(),
  /** BaaS WebSocket base, e.g. `wss://browser.omniscrape.io`. */
  OMNISCRAPE_BROWSER_URL: z.string().min(1).optional(),
  /**
   * The plan's concurrency limit of account `default` (the other accounts' plans are in
   * SCRAPEFLOW_ACCOUNTS_FILE): OmniScrape calls in flight per account, across every scrape worker
   * (a permit per call, src/omniscrape/permits.ts; shared through PostgreSQL when
   * SCRAPEFLOW_DATABASE_URL is set, else within the one scrape worker). @default DEFAULT_PLAN (src/batch/defaults.ts)
   */
  OMNISCRAPE_PLAN_CONCURRENCY: intFrom(1, DEFAULT_PLAN),
  /** The old name of OMNISCRAPE_PLAN_CONCURRENCY, still read when the new one is unset. */
  OMNISCRAPE_CONCURRENCY: z.coerce.number().int().min(1).optional(),
  /**
   * Activity slots per scrape worker: scrape tasks one worker takes at once. Not the plan: a task
   * beyond the plan waits (heartbeating) for a permit, so each worker can keep the whole plan busy and
   * a permit given back is taken again at once, while the tasks holding the other slots write their
   * records or start.
   * @default twice OMNISCRAPE_PLAN_CONCURRENCY
   */
  SCRAPEFLOW_SCRAPE_SLOTS: z.coerce.number().int().min(1).optional(),
  /**
   * Activity slots per browser worker: browser tasks one worker takes at once. Not the account's
   * session limit (OMNISCRAPE_BROWSER_SESSIONS): a task beyond it waits for a session permit.
   * @default 2
   */
  BAAS_CONCURRENCY: intFrom(1, 2),
  /**
   * The BaaS session limit of account `default` (the other accounts' are in SCRAPEFLOW_ACCOUNTS_FILE):
   * browser sessions open at once per account, across every browser worker (a permit per session,
   * src/omniscrape/shared-permits.ts). @default 2
   */
  OMNISCRAPE_BROWSER_SESSIONS: intFrom(1, DEFAULT_BROWSER_SESSIONS),
  // How every process connects to Temporal, as the Temporal CLI and SDKs read it (@temporalio/envconfig):
  // these variables override the profile of a TOML config file. src/temporal/connection.ts resolves
  // them; the defaults (127.0.0.1:7233, namespace `default`, no TLS) apply there, after the profile.
  /** Temporal frontend address, `host:port`. @default the profile's, else 127.0.0.1:7233 */
  TEMPORAL_ADDRESS: z.string().min(1).optional(),
  /** Temporal namespace. @default the profile's, else `default` */
  TEMPORAL_NAMESPACE: z.string().min(1).optional(),
  /** API key (Temporal Cloud, or a cluster with an authorizer): sent as a bearer token; implies TLS. */
  TEMPORAL_API_KEY: z.string().min(1).optional(),
  /** `true`/`1` turns TLS on (with the system's CAs unless a CA is given), `false`/`0` off. */
  TEMPORAL_TLS: z.enum(['true', 'false', '1', '0']).optional(),
  /** Client certificate (PEM) for mTLS; needs TEMPORAL_TLS_CLIENT_KEY_PATH (or `_DATA`). */
  TEMPORAL_TLS_CLIENT_CERT_PATH: z.string().min(1).optional(),
  /** The client certificate's PEM itself, instead of a path. */
  TEMPORAL_TLS_CLIENT_CERT_DATA: z.string().min(1).optional(),
  /** Private key (PEM) of the client certificate. Never logged. */
  TEMPORAL_TLS_CLIENT_KEY_PATH: z.string().min(1).optional(),
  /** The private key's PEM itself, instead of a path. Never logged. */
  TEMPORAL_TLS_CLIENT_KEY_DATA: z.string().min(1).optional(),
  /** CA certificate (PEM) that signed the server's certificate. @default the system's CAs */
  TEMPORAL_TLS_SERVER_CA_CERT_PATH: z.string().min(1).optional(),
  /** The CA certificate's PEM itself, instead of a path. */
  TEMPORAL_TLS_SERVER_CA_CERT_DATA: z.string().min(1).optional(),
  /** Name checked against the server's certificate (and sent as SNI). @default the address's host */
  TEMPORAL_TLS_SERVER_NAME: z.string().min(1).optional(),
  /** Profile of the config file to use. @default `default` (when the file has one) */
  TEMPORAL_PROFILE: z.string().min(1).optional(),
  /** TOML config file of profiles. @default `$XDG_CONFIG_HOME/temporalio/temporal.toml` (or `~/.config/…`), when it exists */
  TEMPORAL_CONFIG_FILE: z.string().min(1).optional(),
  /** Where the default Temporal config file is looked for (not settings themselves). */
  HOME: z.string().min(1).optional(),
  XDG_CONFIG_HOME: z.string().min(1).optional(),
  APPDATA: z.string().min(1).optional(),
  /** Base URL of the Temporal Web UI, for the links `scrapeflow inspect` prints and events carry. @default http://localhost:8233 */
  TEMPORAL_UI_URL: z.url().default('http://localhost:8233'),
  /**
   * Base URL of the HTTP service as webhook receivers reach it: the status and results links events
   * carry. @default http://127.0.0.1:8787 (`scrapeflow serve` on this host)
   */
  SCRAPEFLOW_PUBLIC_URL: z.url().default('http://127.0.0.1:8787'),
  /** Where the filesystem store keeps inputs, results and page bodies. @default ./.data */
  SCRAPEFLOW_DATA_DIR: z.string().min(1).default('.data'),
  /** PostgreSQL URL; when set, results go to PostgreSQL instead of the filesystem. Its password is a secret. */
  SCRAPEFLOW_DATABASE_URL: z.string().min(1).optional(),
  /**
   * PostgreSQL URL of `scrapeflow cluster up` (or `--database-url-file`): from the environment, so the
   * password is never on a command line. Its password is a secret.
   */
  SCRAPEFLOW_CLUSTER_DATABASE_URL: z.string().min(1).optional(),
  /** Path of the `temporal` CLI binary. */
  TEMPORAL_CLI_PATH: z.string().min(1).optional(),
  /** Path of the `temporal-server` binary `scrapeflow cluster up` runs (built by `setup.sh --cluster`). */
  TEMPORAL_SERVER_PATH: z.string().min(1).optional(),
  /** Path of the `temporal-sql-tool` binary `scrapeflow cluster up` migrates schemas with. */
  TEMPORAL_SQL_TOOL_PATH: z.string().min(1).optional(),
  /** Directory holding the server's PostgreSQL schemas (`temporal/versioned`, `visibility/versioned`). */
  TEMPORAL_SCHEMA_DIR: z.string().min(1).optional(),
  /** Path of the Chromium binary. */
  CHROMIUM_PATH: z.string().min(1).optional(),
  /** Bearer token required by the HTTP service. */
  SCRAPEFLOW_API_TOKEN: z.string().min(1).optional(),
  /** Largest input file `POST /v1/batches` takes, bytes (over it: 413). @default 268435456 (256 MiB) */
  SCRAPEFLOW_UPLOAD_MAX_BYTES: z.coerce.number().int().min(1).optional(),
  /** Most URLs one uploaded input file may hold (over it: 413). @default 1000000 */
  SCRAPEFLOW_UPLOAD_MAX_LINES: z.coerce.number().int().min(1).optional(),
  /** Longest time the service takes to receive one request, an uploaded file included, ms. @default 900000 */
  SCRAPEFLOW_REQUEST_TIMEOUT_MS: z.coerce.number().int().min(1000).optional(),
  /** A connection of the service with no traffic is closed after this long, ms. @default 300000 */
  SCRAPEFLOW_CONNECTION_TIMEOUT_MS: z.coerce.number().int().min(1000).optional(),
  /** Warn and record an `account.low_balance` event when `balance_after` falls below this many credits. */
  LOW_BALANCE_THRESHOLD: z.coerce.number().min(0).optional(),
  /**
   * Shorthand for a webhook endpoint of every account subscribed to `account.low_balance` and
   * `batch.paused` (src/webhooks/alert-endpoint.ts): signed and delivered like any other endpoint.
   */
  ALERT_WEBHOOK_URL: z.url().optional(),
  /**
   * The `whsec_` secret of ALERT_WEBHOOK_URL's endpoint. Unset: one is generated when the endpoint is
   * made, and `scrapeflow webhooks rotate-secret <id>` shows a new one. Never logged.
   */
  ALERT_WEBHOOK_SECRET: z
    .string()
    .regex(/^whsec_[A-Za-z0-9+/=]{24,}$/, 'must be a whsec_ secret (whsec_ and base64 of 24 or more bytes)')
    .optional(),
  /**
   * Hosts, addresses and CIDRs (comma list) webhooks, and the direct sitemap reads of monitor runs on
   * scrape workers, may reach although the SSRF guard refuses them (loopback, private, link-local,
   * CGNAT, metadata): an internal receiver, or 127.0.0.1 in tests.
   */
  SCRAPEFLOW_WEBHOOK_ALLOW_HOSTS: z
    .string()
    .min(1)
    .refine((v) => allowListProblem(v) === undefined, { error: (i) => allowListProblem(String(i.input)) })
    .optional(),
  /** Deliveries in flight per webhook endpoint, at most, across every dispatcher. @default 4 */
  SCRAPEFLOW_WEBHOOK_MAX_IN_FLIGHT: intFrom(1, 4),
  /**
   * The delays before each try of a webhook delivery, ms, comma-separated (their count is the tries).
   * @default 0,5000,300000,1800000,7200000,18000000,36000000,36000000 (Svix's schedule)
   */
  SCRAPEFLOW_WEBHOOK_RETRY_DELAYS: z.string().min(1).optional(),
  /**
   * TCP port of the worker's Prometheus endpoint (`GET /metrics`: scrapeflow's counters and the Temporal
   * runtime's metrics on one page). Unset: no endpoint. `0`: a free port, printed in the
   * `metrics_listening` log line.
   * @default unset (disabled)
   */
  SCRAPEFLOW_METRICS_PORT: z.coerce.number().int().min(0).max(65_535).optional(),
  /** Interface the metrics endpoint listens on (`0.0.0.0` in containers). @default 127.0.0.1 */
  SCRAPEFLOW_METRICS_HOST: z.string().min(1).default('127.0.0.1'),
  /**
   * AES-256-GCM key for Temporal payloads, base64 of 32 bytes. When set (or `SCRAPEFLOW_ENCRYPTION_KEYS`
   * is), every workflow input, result, signal, query answer and failure message is encrypted.
   */
  SCRAPEFLOW_ENCRYPTION_KEY: z.string().min(1).optional(),
  /** Id of `SCRAPEFLOW_ENCRYPTION_KEY`, stored in each encrypted payload. @default default */
  SCRAPEFLOW_ENCRYPTION_KEY_ID: z.string().min(1).optional(),
  /**
   * Several keys for rotation: `id1:base64,id2:base64`. The first key (after `SCRAPEFLOW_ENCRYPTION_KEY`,
   * when both are set) encrypts; every key listed decrypts.
   */
  SCRAPEFLOW_ENCRYPTION_KEYS: z.string().min(1).optional(),
});

export type Config = z.infer<typeof envSchema>;

/** Reads and validates the environment; throws a `ConfigError` naming every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const { OMNISCRAPE_CONCURRENCY: oldName, OMNISCRAPE_PLAN_CONCURRENCY: newName } = cleaned;
  if (oldName !== undefined && newName !== undefined && Number(oldName) !== Number(newName))
    throw new ConfigError(
      `invalid environment: OMNISCRAPE_CONCURRENCY (${oldName}) is the old name of OMNISCRAPE_PLAN_CONCURRENCY (${newName}) and disagrees with it`,
      'set only OMNISCRAPE_PLAN_CONCURRENCY',
    );
  if (newName === undefined && oldName !== undefined) cleaned.OMNISCRAPE_PLAN_CONCURRENCY = oldName;
  const parsed = envSchema.safeParse(cleaned);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new ConfigError(`invalid environment: ${problems}`);
  }
  registerUrlPassword(parsed.data.SCRAPEFLOW_DATABASE_URL);
  registerUrlPassword(parsed.data.SCRAPEFLOW_CLUSTER_DATABASE_URL);
  return parsed.data;
}

/**
 * The PostgreSQL store's schema, as numbered migrations. Applied in order at start-up by `PgStore.open`
 * under an advisory lock; each version is recorded in `scrapeflow_migrations` and never edited once
 * shipped: change the schema by appending a migration.
 *
 * Types, and why:
 *   batch_id   text          validated against STORED_BATCH_ID_PATTERN (at most 128 safe characters)
 *   idx        integer       0-based input position; 2^31 URLs per batch is far beyond any input
 *   tags       text[]        the tag filter is `tags @> ARRAY[$tag]`, served by a GIN index
 *   charged    numeric       credits may be fractional; numeric sums exactly (reporting queries)
 *   finished_at timestamptz  the record's `finishedAt`
 *   record     jsonb         the whole ResultRecord as written; the columns beside it are for SQL filters
 *   body       bytea         the page as UTF-8: text cannot hold NUL characters, which real pages contain
 *   stored_at  timestamptz   when the body was written (server clock); retention deletes by it
 *   steps      jsonb         an input item's own browser steps (UrlItem.steps), NULL when it has none
 *   try_id     text          names one try of a URL (run, activity, attempt): a repeated note is one charge
 *   duplicate_of integer     an input line's first line of the same URL (UrlItem.duplicateOf), NULL on a first
 *   lease_id   text          one held plan permit (src/omniscrape/pg-permits.ts): `<holder>/<random>`
 *   holder     text          the scrape worker process holding it (`<hostname>/<pid>/<random>`)
 *   expires_at timestamptz   database time after which the permit is free again unless renewed
 *   waiter_id  text          a call waiting for a plan permit in a worker process: `<holder>/w/<random>`
 *   priority   integer       its batch's priority, 1 most urgent: it claims free permits before less urgent waiters
 *   hash       text          an API token's hex SHA-256 (src/auth/tokens.ts): the token itself is never stored
 *   accounts   text[]        the account labels a token acts on (empty for an admin token)
 *   version    text          a batch's options by the hash of their content (OPTIONS_VERSION_PATTERN)
 *   options    jsonb         the batch's options as its workflow holds them, read by URL activities
 */

export interface Migration {
  version: number;
  name: string;
  /** The SQL, given the schema prefix to put before table names (`"my_schema".` or empty). */
  sql: (prefix: string) => string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'inputs, results, content',
    sql: (p) => `
      CREATE TABLE ${p}scrapeflow_input_batches (
        batch_id   text        PRIMARY KEY,
        item_count integer     NOT NULL,
        stored_at  timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE ${p}scrapeflow_inputs (
        batch_id text    NOT NULL,
        idx      integer NOT NULL,
        url      text    NOT NULL,
        tags     text[],
        PRIMARY KEY (batch_id, idx)
      );
      CREATE TABLE ${p}scrapeflow_results (
        batch_id    text        NOT NULL,
        idx         integer     NOT NULL,
        url         text        NOT NULL,
        status      text        NOT NULL CHECK (status IN ('succeeded', 'dead_lettered', 'failed')),
        reason      text,
        tags        text[]      NOT NULL DEFAULT '{}',
        charged     numeric     NOT NULL,
        attempts    integer     NOT NULL,
        finished_at timestamptz NOT NULL,
        record      jsonb       NOT NULL,
        PRIMARY KEY (batch_id, idx)
      );
      CREATE INDEX scrapeflow_results_tags ON ${p}scrapeflow_results USING gin (tags);
      CREATE INDEX scrapeflow_results_status ON ${p}scrapeflow_results (batch_id, status, idx);
      CREATE TABLE ${p}scrapeflow_content (
        batch_id  text        NOT NULL,
        idx       integer     NOT NULL,
        body      bytea       NOT NULL,
        stored_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (batch_id, idx)
      );
      CREATE INDEX scrapeflow_content_stored_at ON ${p}scrapeflow_content (stored_at);
    `,
  },
  {
    version: 2,
    name: 'input lineage for re-drive',
    sql: (p) => `ALTER TABLE ${p}scrapeflow_inputs ADD COLUMN redriven_from jsonb;`,
  },
  {
    version: 3,
    name: 'per-item browser steps',
    sql: (p) => `ALTER TABLE ${p}scrapeflow_inputs ADD COLUMN steps jsonb;`,
  },
  {
    version: 4,
    name: 'charges noted by tries before the record',
    sql: (p) => `
      CREATE TABLE ${p}scrapeflow_charges (
        batch_id text        NOT NULL,
        idx      integer     NOT NULL,
        try_id   text        NOT NULL,
        credits  numeric     NOT NULL,
        noted_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (batch_id, idx, try_id)
      );
    `,
  },
  {
    version: 5,
    name: 'duplicate input lines point at their first',
    sql: (p) => `ALTER TABLE ${p}scrapeflow_inputs ADD COLUMN duplicate_of integer;`,
  },
  {
    version: 6,
    name: 'plan permits: leases of OmniScrape calls in flight per account',
    sql: (p) => `
      CREATE TABLE ${p}scrapeflow_plan_leases (
        lease_id    text        PRIMARY KEY,
        account     text        NOT NULL,
        holder      text        NOT NULL,
        acquired_at timestamptz NOT NULL DEFAULT now(),
        expires_at  timestamptz NOT NULL
      );
      CREATE INDEX scrapeflow_plan_leases_account ON ${p}scrapeflow_plan_leases (account, expires_at);
      CREATE INDEX scrapeflow_plan_leases_holder ON ${p}scrapeflow_plan_leases (holder);
    `,
  },
  {
    version: 7,
    name: 'plan permits: calls waiting for one, by priority',
    sql: (p) => `
      CREATE TABLE ${p}scrapeflow_plan_waiters (
        waiter_id  text        PRIMARY KEY,
        account    text        NOT NULL,
        holder     text        NOT NULL,
        priority   integer     NOT NULL,
        since      timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL
      );
      CREATE INDEX scrapeflow_plan_waiters_account ON ${p}scrapeflow_plan_waiters (account, priority);
      CREATE INDEX scrapeflow_plan_waiters_holder ON ${p}scrapeflow_plan_waiters (holder);
    `,
  },
  {
    version: 8,
    name: 'API tokens scoped to accounts, stored as hashes',
    sql: (p) => `
      CREATE TABLE ${p}scrapeflow_tokens (
        name         text        PRIMARY KEY,
        hash         text        NOT NULL UNIQUE,
        accounts     text[]      NOT NULL,
        admin        boolean     NOT NULL,
        created_at   timestamptz NOT NULL,
        last_used_at timestamptz
      );
    `,
  },
  {
    version: 9,
    name: 'batch options by version, read by URL activities',
    sql: (p) => `
      CREATE TABLE ${p}scrapeflow_batch_options (
        batch_id  text        NOT NULL,
        version   text        NOT NULL,
        options   jsonb       NOT NULL,
        stored_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (batch_id, version)
      );
    `,
  },
  {
    version: 10,
    name: 'webhooks: endpoints, the event outbox, deliveries and their attempts',
    sql: (p) => `
      CREATE TABLE ${p}scrapeflow_webhook_endpoints (
        id              text        PRIMARY KEY,
        url             text        NOT NULL,
        account         text,
        events          text[]      NOT NULL DEFAULT '{}',
        description     text,
        allow_http      boolean     NOT NULL DEFAULT false,
        enabled         boolean     NOT NULL DEFAULT true,
        disabled_reason text,
        disabled_at     timestamptz,
        failing_since   timestamptz,
        secrets         jsonb       NOT NULL,
        created_at      timestamptz NOT NULL
      );
      CREATE TABLE ${p}scrapeflow_events (
        id          text        PRIMARY KEY,
        type        text        NOT NULL,
        account     text        NOT NULL,
        subject     text        NOT NULL,
        sequence    integer     NOT NULL,
        recorded_at timestamptz NOT NULL,
        body        text        NOT NULL,
        UNIQUE (subject, sequence)
      );
      CREATE TABLE ${p}scrapeflow_deliveries (
        event_id        text        NOT NULL,
        endpoint_id     text        NOT NULL,
        subject         text        NOT NULL,
        sequence        integer     NOT NULL,
        status          text        NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
        attempts        integer     NOT NULL DEFAULT 0,
        next_attempt_at timestamptz,
        lease_holder    text,
        lease_until     timestamptz,
        last_status     integer,
        last_error      text,
        last_latency_ms integer,
        created_at      timestamptz NOT NULL,
        PRIMARY KEY (event_id, endpoint_id)
      );
      CREATE INDEX scrapeflow_deliveries_due ON ${p}scrapeflow_deliveries (endpoint_id, next_attempt_at)
        WHERE status = 'pending';
      CREATE INDEX scrapeflow_deliveries_order ON ${p}scrapeflow_deliveries (endpoint_id, subject, sequence)
        WHERE status = 'pending';
      CREATE TABLE ${p}scrapeflow_delivery_attempts (
        id              bigserial   PRIMARY KEY,
        event_id        text        NOT NULL,
        endpoint_id     text        NOT NULL,
        at              timestamptz NOT NULL,
        status          integer,
        error           text,
        latency_ms      integer     NOT NULL,
        next_attempt_at timestamptz
      );
      CREATE INDEX scrapeflow_delivery_attempts_of ON ${p}scrapeflow_delivery_attempts (event_id, endpoint_id, id);
    `,
  },
  {
    version: 11,
    name: 'monitors: specs, runs, observations',
    sql: (p) => `
      CREATE TABLE ${p}scrapeflow_monitors (
        name    text  PRIMARY KEY,
        account text  NOT NULL,
        spec    jsonb NOT NULL
      );
      CREATE TABLE ${p}scrapeflow_monitor_runs (
        monitor      text        NOT NULL,
        batch_id     text        NOT NULL,
        scheduled_at timestamptz NOT NULL,
        state        text        NOT NULL,
        counts       jsonb,
        credits      numeric,
        tracked_at   timestamptz,
        PRIMARY KEY (monitor, batch_id)
      );
      CREATE INDEX scrapeflow_monitor_runs_time ON ${p}scrapeflow_monitor_runs (monitor, scheduled_at);
      CREATE TABLE ${p}scrapeflow_monitor_observations (
        monitor     text        NOT NULL,
        batch_id    text        NOT NULL,
        url         text        NOT NULL,
        observed_at timestamptz NOT NULL,
        status      text        NOT NULL,
        charged     numeric     NOT NULL,
        row         jsonb       NOT NULL,
        PRIMARY KEY (monitor, batch_id, url)
      );
      -- One URL's history (and the rows a month's spend or a retention cut reads).
      CREATE INDEX scrapeflow_monitor_observations_url
        ON ${p}scrapeflow_monitor_observations (monitor, url, observed_at, batch_id);
      CREATE INDEX scrapeflow_monitor_observations_time
        ON ${p}scrapeflow_monitor_observations (monitor, observed_at, url);
    `,
  },
];

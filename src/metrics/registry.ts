/**
 * The process's Prometheus registry and the text a `/metrics` endpoint serves. Extra sources (the
 * Temporal runtime's own exporter) are appended to scrapeflow's metrics, so each process has one
 * scrape target.
 */
import { collectDefaultMetrics, Registry } from 'prom-client';

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Exposition text from another exporter; resolves to '' when it is unavailable. */
export type MetricsSource = () => Promise<string>;

export interface MetricsPage {
  contentType: string;
  body: string;
}

/** A registry with Node's process metrics (`scrapeflow_process_*`, `scrapeflow_nodejs_*`). */
export function createRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'scrapeflow_' });
  return registry;
}

let processRegistry: Registry | undefined;

/** The registry of this process, created on first use. */
export function defaultRegistry(): Registry {
  processRegistry ??= createRegistry();
  return processRegistry;
}

/**
 * The `/metrics` page: the registry's metrics followed by each source's. The HTTP service mounts it:
 * `app.get('/metrics', async (_, reply) => { const m = await metricsHandler(); return reply.type(m.contentType).send(m.body); })`.
 */
export async function metricsHandler(
  registry: Registry = defaultRegistry(),
  sources: MetricsSource[] = [],
): Promise<MetricsPage> {
  const parts = [await registry.metrics(), ...(await Promise.all(sources.map((s) => s())))];
  return { contentType: METRICS_CONTENT_TYPE, body: parts.filter((p) => p.trim()).join('\n') };
}

/** A source that reads another Prometheus endpoint (the Temporal runtime's), '' if it does not answer. */
export function httpSource(url: string, timeoutMs = 2000): MetricsSource {
  return async () => {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
      return res.ok ? await res.text() : '';
    } catch {
      return '';
    }
  };
}

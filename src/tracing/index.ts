/**
 * Traces, configured only by the standard OpenTelemetry variables: with `OTEL_EXPORTER_OTLP_ENDPOINT`
 * or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` set, a process exports its spans over OTLP/HTTP (./otel.ts,
 * loaded only then); unset, nothing is loaded, started or installed, so tracing off costs nothing.
 * One tracer per process: the first role to ask names it (`OTEL_SERVICE_NAME` wins over that name).
 */

import type { Tracing } from './types.js';

export type { SpanHandle, Tracing } from './types.js';

/** Whether the environment asks for traces (an OTLP endpoint, and the SDK not disabled). */
export function tracingRequested(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.OTEL_SDK_DISABLED?.toLowerCase() === 'true' || env.OTEL_TRACES_EXPORTER === 'none') return false;
  return Boolean(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT);
}

let started: Promise<Tracing> | undefined;

/**
 * This process's tracing, started on first use under `serviceName` (`scrapeflow-cli`,
 * `scrapeflow-service`, `scrapeflow-worker-<roles>`); undefined when the environment asks for none.
 */
export async function processTracing(serviceName: string): Promise<Tracing | undefined> {
  if (!started && !tracingRequested()) return undefined;
  started ??= import('./otel.js').then(({ startOtel }) => startOtel(serviceName));
  return started;
}

/** Flushes and stops this process's tracing, if it was started (a process's last step). */
export async function stopTracing(): Promise<void> {
  const tracing = await started;
  started = undefined;
  await tracing?.shutdown();
}

/** What a process's tracing offers (./index.ts starts it; ./otel.ts implements it). */
import type { ResultStore } from '../store/types.js';
import type { SpanAttributes } from './attributes.js';
import type { WorkflowClientInterceptor } from '@temporalio/client';
import type { InjectedSinks, WorkerInterceptors } from '@temporalio/worker';
import type { OpenTelemetrySinks } from '@temporalio/interceptors-opentelemetry';

/** A span of ours, ended once with its attributes (and an error message when it failed). */
export interface SpanHandle {
  end(attributes: SpanAttributes, error?: string): void;
}

export interface Tracing {
  /** Starts a span under the active one (an OmniScrape call, a BaaS session). */
  startSpan(name: string): SpanHandle;
  /** `store` with a span per write (`putResult`, `putContent`). */
  traceStore<S extends ResultStore>(store: S): S;
  /** The Temporal client's interceptors: start, signal, query... spans, context sent in headers. */
  clientInterceptors: WorkflowClientInterceptor[];
  /** What a worker adds: activity interceptors, and the sink workflow spans leave the sandbox by. */
  workerOptions: { interceptors: WorkerInterceptors; sinks: InjectedSinks<OpenTelemetrySinks> };
  /** Exports what is buffered and stops. */
  shutdown(): Promise<void>;
}

/**
 * The OpenTelemetry SDK of a process, loaded by ./index.ts only when traces are asked for. Everything
 * here comes from the standard variables: the OTLP/HTTP exporter reads `OTEL_EXPORTER_OTLP_*`, the batch
 * processor `OTEL_BSP_*`, the resource `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES`.
 * `@temporalio/interceptors-opentelemetry` 1.24 is built on the OpenTelemetry JS SDK 1.x (its
 * dependencies: `@opentelemetry/sdk-trace-base` ^1.25.1), so this is the 1.30 line (exporter 0.57).
 */
import { trace } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { detectResourcesSync, envDetectorSync, Resource } from '@opentelemetry/resources';
import { BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import {
  makeWorkflowExporter,
  OpenTelemetryActivityInboundInterceptor,
  OpenTelemetryActivityOutboundInterceptor,
  OpenTelemetryWorkflowClientInterceptor,
} from '@temporalio/interceptors-opentelemetry';
import type { Tracing } from './types.js';
import { startSpan, tracedStore } from './spans.js';

export function startOtel(serviceName: string): Tracing {
  const resource = Resource.default()
    .merge(new Resource({ 'service.name': serviceName }))
    .merge(detectResourcesSync({ detectors: [envDetectorSync] }));
  const processor = new BatchSpanProcessor(new OTLPTraceExporter());
  const provider = new NodeTracerProvider({ resource, spanProcessors: [processor] });
  // The global provider, AsyncLocalStorage context and W3C propagator the interceptors use.
  provider.register();
  const tracer = trace.getTracer('scrapeflow');
  return {
    startSpan: (name) => startSpan(tracer, name),
    traceStore: (store) => tracedStore(store, tracer),
    clientInterceptors: [new OpenTelemetryWorkflowClientInterceptor()],
    workerOptions: {
      interceptors: {
        activity: [
          (ctx) => ({
            inbound: new OpenTelemetryActivityInboundInterceptor(ctx),
            outbound: new OpenTelemetryActivityOutboundInterceptor(ctx),
          }),
        ],
      },
      sinks: { exporter: makeWorkflowExporter(processor, resource) },
    },
    shutdown: () => provider.shutdown(),
  };
}

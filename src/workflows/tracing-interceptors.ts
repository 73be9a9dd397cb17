/**
 * Temporal's OpenTelemetry workflow interceptors, in effect only for a workflow started with a trace
 * context (a client that traces sends it in the `_tracer-data` header, kept in the history). Every
 * other workflow goes straight to `next`: the interceptors add awaits that reorder a workflow's
 * commands (a history recorded without them fails to replay with them), so a workflow is traced from
 * its start or never, whatever the worker replaying it, and one bundle serves workers that trace and
 * workers that do not. Workflow spans leave the sandbox through the worker's `exporter` sink.
 */
import {
  OpenTelemetryInboundInterceptor,
  OpenTelemetryInternalsInterceptor,
  OpenTelemetryOutboundInterceptor,
} from '@temporalio/interceptors-opentelemetry/lib/workflow/index.js';
import type {
  WorkflowExecuteInput,
  WorkflowInboundCallsInterceptor,
  WorkflowInterceptors,
} from '@temporalio/workflow';

const TRACE_HEADER = '_tracer-data';

type Method = (input: unknown, next: (input: unknown) => unknown) => unknown;

/** An interceptor with `Otel`'s methods, each `Otel`'s (made on first use) once `traced()`, else `next`. */
function gated<I extends object>(Otel: new () => I, traced: () => boolean): I {
  let otel: Record<string, Method> | undefined;
  const methods: Record<string, Method> = {};
  for (const name of Object.getOwnPropertyNames(Otel.prototype)) {
    if (name === 'constructor') continue;
    methods[name] = (input, next) => {
      if (!traced()) return next(input);
      otel ??= new Otel() as unknown as Record<string, Method>;
      return otel[name]!.call(otel, input, next);
    };
  }
  return methods as unknown as I;
}

export const interceptors = (): WorkflowInterceptors => {
  let traced = false;
  const isTraced = () => traced;
  const inbound = gated(OpenTelemetryInboundInterceptor, isTraced);
  const execute: WorkflowInboundCallsInterceptor['execute'] = (input: WorkflowExecuteInput, next) => {
    traced = Object.hasOwn(input.headers, TRACE_HEADER);
    return inbound.execute(input, next);
  };
  return {
    inbound: [{ ...inbound, execute }],
    outbound: [gated(OpenTelemetryOutboundInterceptor, isTraced)],
    internals: [gated(OpenTelemetryInternalsInterceptor, isTraced)],
  };
};

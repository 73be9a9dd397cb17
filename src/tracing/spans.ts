/**
 * Our own spans, beside the ones Temporal's interceptors make: one per OmniScrape call or BaaS session
 * (attributes from ./attributes.ts) and one per store write. Loaded with ./otel.ts only.
 */
import { SpanStatusCode, type Tracer } from '@opentelemetry/api';
import type { ResultStore } from '../store/types.js';
import type { SpanAttributes } from './attributes.js';
import type { SpanHandle } from './types.js';

/** A span started now, under the active one (the activity's), ended by the caller. */
export function startSpan(tracer: Tracer, name: string): SpanHandle {
  const span = tracer.startSpan(name);
  return {
    end(attributes, error) {
      span.setAttributes(attributes);
      if (error !== undefined) span.setStatus({ code: SpanStatusCode.ERROR, message: error });
      span.end();
    },
  };
}

async function inSpan<T>(
  tracer: Tracer,
  name: string,
  attributes: SpanAttributes,
  work: () => Promise<T>,
): Promise<T> {
  return tracer.startActiveSpan(name, { attributes }, async (span) => {
    try {
      return await work();
    } catch (err) {
      span.setStatus({
        code: SpanStatusCode.ERROR,
        message: err instanceof Error ? err.message : String(err),
      });
      throw err;
    } finally {
      span.end();
    }
  });
}

/** `store` with a span around each write of a record or a page's content. */
export function tracedStore<S extends ResultStore>(store: S, tracer: Tracer): S {
  const writes: Pick<ResultStore, 'putResult' | 'putContent'> = {
    putResult: (record) =>
      inSpan(
        tracer,
        'store putResult',
        {
          'scrapeflow.batch_id': record.batchId,
          'scrapeflow.index': record.index,
          'scrapeflow.status': record.status,
        },
        () => store.putResult(record),
      ),
    putContent: (batchId, index, content) =>
      inSpan(
        tracer,
        'store putContent',
        { 'scrapeflow.batch_id': batchId, 'scrapeflow.index': index, 'scrapeflow.bytes': content.length },
        () => store.putContent(batchId, index, content),
      ),
  };
  // Every other member is the store's own, bound to it (its methods may use private fields).
  return new Proxy(store, {
    get(target, prop) {
      if (prop === 'putResult' || prop === 'putContent') return writes[prop];
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

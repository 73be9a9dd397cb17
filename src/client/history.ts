/**
 * What the clients read from workflow histories: a run's start input, its close event, a failure's
 * text. Payloads and failures are decoded through the client's data converter (its codecs included,
 * so encrypted histories read the same), which the SDK offers publicly only for results: this is the
 * one module that imports the SDK's internal decoders (test/architecture/imports.test.ts holds it), so
 * an SDK upgrade that moves them is fixed here alone.
 */
import type { Client } from '@temporalio/client';
import {
  decodeArrayFromPayloads,
  decodeOptionalFailureToOptionalError,
} from '@temporalio/common/lib/internal-non-workflow/index.js';
import proto from '@temporalio/proto';
import { redactSecrets } from '../logging/secrets.js';

export type HistoryEvent = proto.temporal.api.history.v1.IHistoryEvent;
export type HistoryFailure = proto.temporal.api.failure.v1.IFailure;

/** A workflow run: its latest run when `runId` is unset. */
export interface RunRef {
  workflowId: string;
  runId?: string;
}

async function firstEventOf(
  client: Client,
  run: RunRef,
  closeEvent: boolean,
): Promise<HistoryEvent | undefined> {
  const { history } = await client.workflowService.getWorkflowExecutionHistory({
    namespace: client.options.namespace,
    execution: { workflowId: run.workflowId, runId: run.runId },
    ...(closeEvent
      ? {
          historyEventFilterType:
            proto.temporal.api.enums.v1.HistoryEventFilterType.HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT,
        }
      : { maximumPageSize: 1 }),
  });
  return history?.events?.[0] ?? undefined;
}

/**
 * The first argument the run started with, decoded; undefined when its start event carries none.
 * Throws the service's NOT_FOUND (gRPC code 5) for a workflow the namespace does not have.
 */
export async function startInput<T>(client: Client, run: RunRef): Promise<T | undefined> {
  const event = await firstEventOf(client, run, false);
  const payloads = event?.workflowExecutionStartedEventAttributes?.input?.payloads;
  const [input] = await decodeArrayFromPayloads(client.options.loadedDataConverter, payloads);
  return input as T | undefined;
}

/** The event the run closed with (completed, failed, terminated, timed out, …); undefined while it runs. */
export function closeEvent(client: Client, run: RunRef): Promise<HistoryEvent | undefined> {
  return firstEventOf(client, run, true);
}

/**
 * A failure's innermost cause (a workflow's or an activity's own failure wraps the error that caused
 * it), as `Type: message`, redacted; undefined for no failure.
 */
export async function failureText(
  client: Client,
  failure: HistoryFailure | null | undefined,
): Promise<string | undefined> {
  if (!failure) return undefined;
  let err = await decodeOptionalFailureToOptionalError(client.options.loadedDataConverter, failure);
  while (err?.cause instanceof Error) err = err.cause;
  if (!err) return undefined;
  const { type } = err as { type?: unknown };
  return redactSecrets(typeof type === 'string' && type ? `${type}: ${err.message}` : err.message);
}

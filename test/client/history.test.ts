/**
 * src/client/history.ts on recorded histories (test/fixtures/histories): the start input, the close
 * event and a failure's text, decoded through a real client's data converter. The server is the one
 * part stood in for: its history answer is the recorded file, as GetWorkflowExecutionHistory serves it.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { Client, Connection } from '@temporalio/client';
import proto from '@temporalio/proto';
import { closeEvent, failureText, startInput } from '../../src/client/history.js';
import type { BatchWorkflowInput, PageWorkflowInput } from '../../src/workflows/types.js';

const DIR = new URL('../../../test/fixtures/histories/', import.meta.url);
const BATCH = 'replay-main~01a2327a-5eb5-735f-8d63-38d9ec7306fa.binpb';
const PAGE = 'replay-main~p1~01a2327a-6123-7355-a9d2-00ae5c3ef489.binpb';

type HistoryRequest = proto.temporal.api.workflowservice.v1.IGetWorkflowExecutionHistoryRequest;

/** A client whose server answers history reads with the recorded history of `file`, as the server would. */
async function clientServing(file: string): Promise<{ client: Client; requests: HistoryRequest[] }> {
  const history = proto.temporal.api.history.v1.History.decode(await readFile(new URL(file, DIR)));
  const requests: HistoryRequest[] = [];
  // A lazy connection never dials: the real client is here for its options and data converter.
  const real = new Client({ connection: Connection.lazy({ address: '127.0.0.1:1' }) });
  const closeOnly = proto.temporal.api.enums.v1.HistoryEventFilterType.HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT;
  const workflowService = {
    getWorkflowExecutionHistory(request: HistoryRequest) {
      requests.push(request);
      const events =
        request.historyEventFilterType === closeOnly
          ? history.events.slice(-1)
          : history.events.slice(0, request.maximumPageSize || undefined);
      return Promise.resolve({ history: { events } });
    },
  };
  return { client: { options: real.options, workflowService } as unknown as Client, requests };
}

describe('client/history', () => {
  it("reads a run's start input, asking for its first event only", async () => {
    const { client, requests } = await clientServing(BATCH);
    const input = await startInput<BatchWorkflowInput>(client, { workflowId: 'replay-main', runId: 'r1' });
    assert.equal(input?.batchId, 'replay-main');
    assert.ok((input?.total ?? 0) > 0);
    assert.ok(input?.options.pageSize);
    assert.deepEqual(
      requests.map((r) => [r.execution?.workflowId, r.execution?.runId, r.maximumPageSize]),
      [['replay-main', 'r1', 1]],
    );
  });

  it('reads the close event of a run', async () => {
    const { client } = await clientServing(BATCH);
    const event = await closeEvent(client, { workflowId: 'replay-main' });
    assert.ok(event?.workflowExecutionCompletedEventAttributes);
  });

  it("tells a failed activity's innermost cause as Type: message", async () => {
    const { client } = await clientServing(PAGE);
    const input = await startInput<PageWorkflowInput>(client, { workflowId: 'replay-main/p1' });
    assert.equal(input?.page, 1);
    const history = proto.temporal.api.history.v1.History.decode(await readFile(new URL(PAGE, DIR)));
    const failures = history.events.flatMap((e) =>
      e.activityTaskFailedEventAttributes ? [e.activityTaskFailedEventAttributes.failure] : [],
    );
    const texts = await Promise.all(failures.map((failure) => failureText(client, failure)));
    assert.deepEqual(texts, [
      'AuthError: POST /v1/scrape answered 401: injected fault rule-5',
      'ClientTimeoutError: POST /v1/scrape: no response headers in time',
    ]);
    assert.equal(await failureText(client, undefined), undefined);
  });
});

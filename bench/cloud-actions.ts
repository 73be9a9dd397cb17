/**
 * Temporal Cloud Actions of a workflow history, by the rules Temporal publishes at
 * https://docs.temporal.io/cloud/actions (docs/evaluate/temporal-cloud/actions.mdx in temporalio/documentation:
 * "Workflows", "Child Workflows", "Activities"), applied event by event:
 *
 * - Workflow started (client start, Continue-As-New, Child Workflow start): 1 for WorkflowExecutionStarted
 *   of a client start or a continued run. A child's first run is 0 here, because its parent's
 *   StartChildWorkflowExecutionInitiated is counted 2 ("Start Child Workflow and Child Workflow Execution …
 *   results in two Actions, one for starting the Workflow, and another for the attempted Execution").
 * - Timer started: 1 per TimerStarted (the SDK's `sleep`, and `condition` with a timeout).
 * - Search Attribute upsert requested: 1 per UpsertWorkflowSearchAttributes, whatever the number of
 *   attributes in it, except one that only sets `TemporalChangeVersion`; attributes given at start are free.
 * - Signal sent, from a client or from a workflow: 1 per SignalExternalWorkflowExecutionInitiated (a workflow
 *   sent it), and 1 per WorkflowExecutionSignaled that no workflow sent (a client or an activity sent it;
 *   one a workflow sent has `externalWorkflowExecution` and is counted at its sender). Receiving is free.
 * - Activity started or retried: each attempt, i.e. the `attempt` of ActivityTaskStarted (history keeps
 *   only the last attempt's started event, and its attempt number). An activity cancelled before it
 *   started costs nothing.
 * - Local Activities and other markers: the RecordMarker commands of one workflow task are 1 Action.
 * - Update received (accepted or rejected) and Workflow Execution Options updated: 1 each.
 *
 * Not in history, so not counted here (the cost benchmark takes them from the server's metrics):
 * Activity Heartbeats that reach the server (the SDK throttles them to 80 % of the heartbeat timeout) and
 * Queries received by a worker. Workflow task events, activity scheduled/completed events, child
 * completion events, timer fired events and continue-as-new's own closing event cost nothing.
 */
import proto from '@temporalio/proto';

type HistoryEvent = proto.temporal.api.history.v1.IHistoryEvent;

const EventType = proto.temporal.api.enums.v1.EventType;

/** `EVENT_TYPE_ACTIVITY_TASK_STARTED` → `ActivityTaskStarted`. */
export function eventTypeName(event: HistoryEvent): string {
  const raw = EventType[event.eventType ?? 0] ?? String(event.eventType);
  return raw
    .replace(/^EVENT_TYPE_/, '')
    .toLowerCase()
    .replace(/(^|_)([a-z])/g, (_, __, c: string) => c.toUpperCase());
}

/** Actions one history's events cost, by the action they count as. */
export function cloudActions(events: readonly HistoryEvent[]): Record<string, number> {
  const actions: Record<string, number> = {};
  const add = (action: string, n = 1) => {
    if (n > 0) actions[action] = (actions[action] ?? 0) + n;
  };
  const markerTasks = new Set<string>();
  for (const event of events) {
    switch (event.eventType) {
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED: {
        const attrs = event.workflowExecutionStartedEventAttributes;
        if (attrs?.continuedExecutionRunId) add('workflowStarted.continueAsNew');
        else if (!attrs?.parentWorkflowExecution) add('workflowStarted.client');
        break;
      }
      case EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED:
        add('childWorkflowStarted', 2);
        break;
      case EventType.EVENT_TYPE_TIMER_STARTED:
        add('timerStarted');
        break;
      case EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES: {
        const fields = Object.keys(
          event.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields ?? {},
        );
        if (fields.some((f) => f !== 'TemporalChangeVersion')) add('searchAttributesUpserted');
        break;
      }
      case EventType.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED:
        add('signalSent.byWorkflow');
        break;
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
        if (!event.workflowExecutionSignaledEventAttributes?.externalWorkflowExecution)
          add('signalSent.byClient');
        break;
      case EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
        add('activityStarted', Math.max(1, event.activityTaskStartedEventAttributes?.attempt ?? 1));
        break;
      case EventType.EVENT_TYPE_MARKER_RECORDED: {
        const task = String(
          event.markerRecordedEventAttributes?.workflowTaskCompletedEventId ?? event.eventId,
        );
        if (!markerTasks.has(task)) {
          markerTasks.add(task);
          add('markersOfOneWorkflowTask');
        }
        break;
      }
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_REJECTED:
        add('updateReceived');
        break;
      case EventType.EVENT_TYPE_WORKFLOW_EXECUTION_OPTIONS_UPDATED:
        add('workflowOptionsUpdated');
        break;
      default:
        break;
    }
  }
  return actions;
}

/** Adds `from`'s counts into `into`. */
export function addCounts(
  into: Record<string, number>,
  from: Record<string, number>,
): Record<string, number> {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
  return into;
}

export const sumCounts = (counts: Record<string, number>): number =>
  Object.values(counts).reduce((a, b) => a + b, 0);

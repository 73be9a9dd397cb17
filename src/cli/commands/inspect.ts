import type { Command } from 'commander';
import type { LineInspection, LineSelector } from '../../client/inspect.js';
import { say, withContext } from '../context.js';
import { CliError, ExitCode } from '../exit.js';

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** A line number, or else an exact URL. */
function selectorOf(line: string): LineSelector {
  if (/^\d+$/.test(line)) return { index: Number(line) };
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(line)) return { url: line };
  throw new CliError(
    `name the line by its index (0, 1, …) or by its exact URL (got ${JSON.stringify(line)})`,
    ExitCode.usage,
  );
}

export function inspectionLines(view: LineInspection): string[] {
  const lines = [`${view.batchId} line ${view.index}: ${view.url}`];
  const r = view.record;
  if (!r) lines.push('record: no record yet');
  else {
    lines.push(`record: ${r.status}${r.reason ? ` (${r.reason})` : ''}`);
    if (r.detail) lines.push(`  detail: ${r.detail}`);
    lines.push(
      `  charged ${r.charged} credits, ${plural(r.attempts, 'attempt')}` +
        (r.methodUsed ? `, method ${r.methodUsed}` : '') +
        (r.jobId ? `, job ${r.jobId}` : ''),
    );
  }
  if (view.duplicateOf !== undefined)
    lines.push(`duplicate of line ${view.duplicateOf}: not scraped itself; the calls below are that line's`);
  lines.push(
    `page workflow: ${view.page.workflowId}` +
      (view.page.started ? (view.page.runs > 1 ? ` (${view.page.runs} runs)` : '') : ' (not started yet)'),
  );
  if (view.activities.length === 0) lines.push('activities: none');
  else {
    lines.push('activities:');
    const idWidth = Math.max(...view.activities.map((a) => a.activityId.length));
    const typeWidth = Math.max(...view.activities.map((a) => a.type.length));
    for (const a of view.activities)
      lines.push(
        `  ${a.activityId.padEnd(idWidth)}  ${a.type.padEnd(typeWidth)}  ${plural(a.attempts, 'attempt').padEnd(10)}  ${a.outcome}` +
          (a.lastFailure ? ` | last failure: ${a.lastFailure}` : ''),
      );
  }
  if (view.webUiUrl) lines.push(`web UI: ${view.webUiUrl}`);
  for (const waiting of view.waitingFor ?? []) lines.push(waiting.message);
  return lines;
}

/** `scrapeflow inspect <id> <index|url>`: why one URL of a batch ended as it did. */
export function registerInspect(program: Command): void {
  program
    .command('inspect')
    .description(
      "show one URL of a batch: its record, its page workflow, its activities' attempts and last failure, and the Web UI link",
    )
    .argument('<batchId>', 'the batch id that `start` printed')
    .argument('<line>', "the line's index (0-based) or its exact URL")
    .option(
      '--json',
      'print one JSON object: batchId, index, url, record, page, activities, webUiUrl, waitingFor',
    )
    .option('--ui-url <url>', 'base URL of the Temporal Web UI for the link (default: TEMPORAL_UI_URL)')
    .addHelpText(
      'after',
      `
Exit codes: 4 when there is no such batch, 2 when the batch has no such line (index out of range, URL
not in its input).`,
    )
    .action(async (batchId: string, line: string, flags: { json?: boolean; uiUrl?: string }) => {
      const selector = selectorOf(line);
      await withContext(async ({ client, store, config }) => {
        const { inspectLine } = await import('../../client/inspect.js');
        const view = await inspectLine(client, store, batchId, selector, {
          uiUrl: flags.uiUrl ?? config.TEMPORAL_UI_URL,
        });
        if (flags.json) say(JSON.stringify(view));
        else for (const text of inspectionLines(view)) say(text);
      });
    });
}

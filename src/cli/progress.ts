/**
 * The live progress view of a batch: a cli-progress bar on a terminal, plain lines (one per change)
 * when stderr is not a terminal, so logs and tests can follow it too.
 */
import cliProgress from 'cli-progress';
import type { BatchProgress } from '../workflows/types.js';
import { workerCommand } from '../client/pollers.js';

export interface ProgressView {
  update(progress: BatchProgress): void;
  stop(): void;
}

const done = (p: BatchProgress) => p.counts.succeeded + p.counts.failed + p.counts.dead_lettered;

function formatEta(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  if (seconds < 60) return `${Math.round(seconds)}s`;
  if (seconds < 3600)
    return `${Math.floor(seconds / 60)}m${String(Math.round(seconds % 60)).padStart(2, '0')}s`;
  return `${Math.floor(seconds / 3600)}h${String(Math.floor((seconds % 3600) / 60)).padStart(2, '0')}m`;
}

/**
 * The state with what qualifies it: the pause reason, or why the workflow ended abnormally; and the
 * worker roles it waits for, with the command that starts one.
 */
function stateText(p: BatchProgress): string {
  if (p.failure !== undefined) return `${p.state} (${p.failure})`;
  const state = p.state === 'paused' ? `paused (${p.pauseReason ?? 'manual'})` : p.state;
  const waiting = (p.waitingFor ?? []).map((w) => `a ${w.role} worker: ${workerCommand(w.role)}`);
  return waiting.length ? `${state}, waiting for ${waiting.join(' and ')}` : state;
}

/** Counts, credits and state as one short line (also the non-TTY view). */
export function progressLine(p: BatchProgress, eta?: string): string {
  const c = p.counts;
  const state = stateText(p);
  return (
    `${p.batchId}: ${state} | ${done(p)}/${p.total} done: ${c.succeeded} succeeded, ${c.failed} failed, ` +
    `${c.dead_lettered} dead-lettered | ${c.in_flight} in flight | ${p.credits} credits` +
    (eta ? ` | ETA ${eta}` : '')
  );
}

export function createProgressView(stream: NodeJS.WriteStream = process.stderr): ProgressView {
  const started = Date.now();
  let firstDone: number | undefined;
  const eta = (p: BatchProgress): string => {
    const finished = done(p);
    firstDone ??= finished;
    const rate = (finished - firstDone) / ((Date.now() - started) / 1000);
    return p.state === 'running' && rate > 0 ? formatEta((p.total - finished) / rate) : '?';
  };
  if (!stream.isTTY) {
    let last = '';
    return {
      update(p) {
        const line = progressLine(p);
        if (line !== last) stream.write(`${line}\n`);
        last = line;
      },
      stop() {},
    };
  }
  const bar = new cliProgress.SingleBar(
    {
      stream,
      format:
        '{bar} {percentage}% | {value}/{total} done | {failed} failed | {dead} dead-lettered | ' +
        '{inflight} in flight | {credits} credits | ETA {etaText} | {state}',
      hideCursor: true,
      clearOnComplete: false,
      etaBuffer: 50,
    },
    cliProgress.Presets.shades_classic,
  );
  let started_ = false;
  return {
    update(p) {
      const payload = {
        failed: p.counts.failed,
        dead: p.counts.dead_lettered,
        inflight: p.counts.in_flight,
        credits: p.credits,
        etaText: eta(p),
        state: stateText(p),
      };
      if (!started_) {
        bar.start(p.total, done(p), payload);
        started_ = true;
      } else {
        bar.setTotal(p.total);
        bar.update(done(p), payload);
      }
    },
    stop() {
      if (started_) bar.stop();
    },
  };
}

/** Why a paused batch is paused and what to do next. */
function pauseAdvice(p: BatchProgress): string {
  const resume = `\`scrapeflow resume ${p.batchId}\``;
  switch (p.pauseReason) {
    case 'balance':
      return `paused: the OmniScrape balance is exhausted. Top up, then run ${resume} (or \`resume --all\`).`;
    case 'auth':
      return (
        "paused: OmniScrape rejected the account's API key, or the workers have no key for the batch's " +
        "account. Fix OMNISCRAPE_KEY (account default) or the account's entry in SCRAPEFLOW_ACCOUNTS_FILE " +
        `on the scrape and browser workers, then ${resume}.`
      );
    case 'outage':
      return (
        'paused: OmniScrape is unreachable or failing most calls. The batch probes it (every 5 s, up to ' +
        `every 5 min) and resumes by itself when it answers; no URL fails for it. To go on sooner: ${resume}.`
      );
    case 'budget':
      return (
        `paused: the next call could take the batch over its credit cap (${p.maxCredits ?? '?'} credits, ` +
        `${p.credits} spent). Raise the cap: \`scrapeflow resume ${p.batchId} --max-credits <n>\`.`
      );
    default:
      return `paused: continue with ${resume}.`;
  }
}

/** The closing summary of a batch: counts, credits by method and tag, and what to do next. */
export function summaryLines(p: BatchProgress): string[] {
  // The roles it waits for get lines of their own, with their task queues.
  const lines = [
    progressLine({ ...p, waitingFor: undefined }),
    ...(p.waitingFor ?? []).map((w) => w.message),
  ];
  const byMethod = Object.entries(p.creditsByMethod);
  if (byMethod.length) lines.push(`credits by method: ${byMethod.map(([k, v]) => `${k} ${v}`).join(', ')}`);
  const byTag = Object.entries(p.creditsByTag);
  if (byTag.length) lines.push(`credits by tag: ${byTag.map(([k, v]) => `${k} ${v}`).join(', ')}`);
  if (p.lastBalance !== undefined) lines.push(`balance after: ${p.lastBalance}`);
  if (p.priority !== undefined) lines.push(`priority: ${p.priority} (1 most urgent … 5 least)`);
  if (p.duplicates?.lines)
    lines.push(`duplicate lines: ${p.duplicates.lines} (not scraped: each record points at its first line)`);
  if (p.state === 'paused') lines.push(pauseAdvice(p));
  if (p.failure !== undefined)
    lines.push(
      `${p.state}: the batch's workflow ended before its URLs did, so it cannot go on: ${p.failure}. ` +
        `Fix the cause, then start the URLs that have no record again as a new batch ` +
        `(\`scrapeflow results ${p.batchId}\` lists the ones that ended).`,
    );
  if (p.counts.dead_lettered > 0)
    lines.push(
      `dead letters: \`scrapeflow dead-letters ${p.batchId}\`; after a fix, \`scrapeflow redrive ${p.batchId}\`.`,
    );
  return lines;
}

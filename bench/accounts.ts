/**
 * Two OmniScrape accounts on the same workers (issue 15): accounts `five` and `twenty` with plans 5 and
 * 20 at the local API (which refuses anything over an account's plan with 429), learnt by the workers
 * from an accounts file; one `workflows` and two `scrape` worker processes on the PostgreSQL store (the
 * plan permits are leases shared through it), every scrape taking L = 1 s (a latency fault). Each
 * account's batch is sized for ~30 s at its plan's rate (plan / L). Measured in one run: each batch
 * alone (the baseline), then both at once. Target: together, each reaches >= 0.9 x its plan's rate,
 * and no request is refused over a plan.
 */
import { startStack } from '../test/support/stack.js';
import { writeAccountsFile } from '../test/support/accounts-file.js';
import { createTestDatabase } from '../test/support/database.js';
import { timedBatch, type TimedBatch } from './timed-batch.js';

export const name = 'accounts';

const LATENCY_MS = Number(process.env.BENCH_LATENCY_MS ?? 1000);
const PLANS = { five: 5, twenty: 20 };
/** Seconds of work per batch at its plan's rate. */
const SECONDS = Number(process.env.BENCH_SECONDS ?? 30);
type Account = keyof typeof PLANS;
const ACCOUNTS = Object.keys(PLANS) as Account[];

interface Row {
  account: Account;
  plan: number;
  urls: number;
  succeeded: number;
  seconds: number;
  urlsPerSec: number;
  planRate: number;
  ratioToPlanRate: number;
  /** Mean of the account's calls in flight at the API over the plan, sampled while every batch of the phase ran. */
  planBusy: number;
  /** Mean duration of the account's calls as the workers logged them (L plus the API's own work). */
  meanCallMs: number;
  peakConcurrency: number;
  refusedOverPlan: number;
}

export async function run(): Promise<Record<string, unknown>> {
  const db = await createTestDatabase('sf_bench_accounts');
  const phases: Record<'alone' | 'together', Row[]> = { alone: [], together: [] };
  try {
    const stack = await startStack({
      databaseUrl: db.url,
      concurrency: 1, // `default`, unused here
      accounts: ACCOUNTS.map((id) => ({ id, concurrency: PLANS[id] })),
    });
    try {
      const { env } = await writeAccountsFile(stack, PLANS);
      await stack.startWorker({}, 'workflows');
      // Slots for twice both plans on each worker: the permits, not the slots, hold each account.
      const slots = String(2 * (PLANS.five + PLANS.twenty));
      for (let i = 0; i < 2; i += 1)
        await stack.startWorker({ ...env, SCRAPEFLOW_SCRAPE_SLOTS: slots }, 'scrape');
      await stack.admin('PUT', '/admin/faults', {
        rules: [{ match: `${stack.demoOrigin}/p/*`, action: 'latency', latencyMs: LATENCY_MS }],
      });
      let offset = 0;
      const urls = (n: number) => Array.from({ length: n }, () => `${stack.demoOrigin}/p/${++offset}`);
      const batch = (account: Account, id: string, count: number) =>
        // A window of twice the plan keeps the plan busy while each URL turns over.
        timedBatch(stack, id, urls(count), { mode: 'fast', account, concurrency: 2 * PLANS[account] });
      const sized = (account: Account) => Math.round((PLANS[account] * SECONDS * 1000) / LATENCY_MS);

      await Promise.all(ACCOUNTS.map((a) => batch(a, `warm-${a}`, 2 * PLANS[a])));
      /** Mean `duration_ms` of the calls of a batch, from the scrape workers' cost lines. */
      const meanCallMs = (batchId: string) => {
        const durations = stack.workers
          .flatMap((w) => w.lines)
          .filter((l) => l.includes('"event":"omniscrape_call"') && l.includes(`"batchId":"${batchId}"`))
          .map((l) => (JSON.parse(l) as { duration_ms: number }).duration_ms);
        return Math.round(durations.reduce((a, b) => a + b, 0) / Math.max(1, durations.length));
      };
      const measure = async (phase: 'alone' | 'together', accounts: Account[]) => {
        stack.api.state.counters.reset();
        // In flight per account at the API, sampled until the first batch of the phase ends (its tail
        // and the others' would count as idle plan otherwise).
        const busy = Object.fromEntries(accounts.map((a) => [a, [] as number[]]));
        const sampler = setInterval(() => {
          const current = stack.api.state.counters.snapshot().concurrency.current_by_account;
          for (const a of accounts) busy[a]!.push(current[a] ?? 0);
        }, 100);
        const running = accounts.map((a) => batch(a, `${phase}-${a}`, sized(a)));
        await Promise.race(running).finally(() => clearInterval(sampler));
        const flows = await Promise.all(running);
        const counters = stack.api.state.counters.snapshot();
        const refused =
          (counters.endpoints.scrape['429'] ?? 0) + (counters.endpoints.async_submit['429'] ?? 0);
        accounts.forEach((account, i) => {
          const flow = flows[i] as TimedBatch;
          const planRate = PLANS[account] / (LATENCY_MS / 1000);
          const urlsPerSec = flow.ok / flow.seconds;
          const row: Row = {
            account,
            plan: PLANS[account],
            urls: sized(account),
            succeeded: flow.ok,
            seconds: +flow.seconds.toFixed(1),
            urlsPerSec: +urlsPerSec.toFixed(2),
            planRate,
            ratioToPlanRate: +(urlsPerSec / planRate).toFixed(3),
            planBusy: +(
              busy[account]!.reduce((a, b) => a + b, 0) /
              busy[account]!.length /
              PLANS[account]
            ).toFixed(3),
            meanCallMs: meanCallMs(`${phase}-${account}`),
            peakConcurrency: counters.concurrency.peak_by_account[account] ?? 0,
            // 429s of the whole phase: no 429 fault is injected, so each is a refusal over a plan.
            refusedOverPlan: refused,
          };
          process.stderr.write(`accounts ${phase}: ${JSON.stringify(row)}\n`);
          phases[phase].push(row);
        });
      };
      for (const account of ACCOUNTS) await measure('alone', [account]);
      await measure('together', ACCOUNTS);
    } finally {
      await stack.stop();
    }
  } finally {
    await db.drop();
  }
  const together = phases.together.map((row) => {
    const alone = phases.alone.find((a) => a.account === row.account)!;
    return { ...row, ratioToAlone: +(row.urlsPerSec / alone.urlsPerSec).toFixed(3) };
  });
  return {
    target: `two accounts with plans 5 and 20 on the same workers, L = ${LATENCY_MS} ms: each >= 0.9 x its plan's rate, 0 refused over a plan`,
    met: together.every(
      (r) => r.ratioToPlanRate >= 0.9 && r.refusedOverPlan === 0 && r.peakConcurrency <= r.plan,
    ),
    minRatioToPlanRate: Math.min(...together.map((r) => r.ratioToPlanRate)),
    together,
    alone: phases.alone,
  };
}

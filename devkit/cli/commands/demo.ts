import type { Command } from 'commander';
import { DEFAULT_PORTS, preferPort } from '../../stack/ports.js';
import { say } from '../../../src/cli/context.js';
import { untilSignal } from '../../../src/cli/signals.js';
import { addStackFlags, cliEnvLine, printAddresses, startStackFromFlags, type StackFlags } from './dev.js';

/** `scrapeflow demo`: the embedded stack, one demo batch with a progress bar, the summary, the Web UI link. */
export function registerDemo(program: Command): void {
  addStackFlags(
    program
      .command('demo')
      .description(
        'run a demo batch on the embedded stack (what `dev` starts) and print the results and credits',
      ),
    DEFAULT_PORTS,
  )
    .option('--keep', 'leave the stack running after the demo (Ctrl-C stops it)')
    .action(async (flags: StackFlags & { keep?: boolean }) => {
      // Default ports when free, else any free port: the demo must run next to anything.
      const ports = {
        temporal: await preferPort(flags.temporalPort),
        ui: await preferPort(flags.uiPort),
        service: await preferPort(flags.servicePort),
        api: await preferPort(flags.apiPort),
        demo: await preferPort(flags.demoPort),
      };
      say(
        'starting the embedded stack (Temporal dev server, local OmniScrape API, demo site, worker, service)...',
      );
      const { stack, logFile } = await startStackFromFlags(flags, ports);
      try {
        printAddresses(stack, logFile);
        say(
          'running the demo: 8 product pages, 3 JavaScript-rendered pages, 1 broken page, and 1 long render via the async job flow',
        );
        const [{ runDemo }, { createProgressView, summaryLines }] = await Promise.all([
          import('../../stack/demo.js'),
          import('../../../src/cli/progress.js'),
        ]);
        const view = createProgressView();
        const run = await runDemo({
          client: stack.client,
          store: stack.store,
          demoOrigin: stack.demoOrigin,
          onProgress: (p) => view.update(p),
        });
        view.stop();
        say('');
        for (const progress of [run.main, run.longRender])
          for (const line of summaryLines(progress)) say(line);
        const credits = run.main.credits + run.longRender.credits;
        say(`total credits: ${credits}`);
        say('');
        say('sample results:');
        let shown = 0;
        for await (const record of stack.store.listResults(run.batchIds[0])) {
          if (shown++ >= 4 && record.status === 'succeeded') continue;
          const fields = record.fields ? ` ${JSON.stringify(record.fields)}` : '';
          say(
            `  ${record.status.padEnd(13)} ${record.url} ${record.charged} credits${fields}${record.reason ? ` (${record.reason})` : ''}`,
          );
        }
        say('');
        say('a monitor over 6 products: run 1, two prices change on the demo site, run 2...');
        const { runMonitorDemo } = await import('../../stack/monitor-demo.js');
        const monitor = await runMonitorDemo({
          client: stack.client,
          store: stack.store,
          demoOrigin: stack.demoOrigin,
          catalog: stack.demo.catalog,
        });
        say(`monitor ${monitor.name}: run ${monitor.second} ${JSON.stringify(monitor.counts)}`);
        for (const row of monitor.changed)
          for (const [field, { previous, current }] of Object.entries(row.diff))
            say(`  changed ${row.url} ${field}: ${String(previous)} -> ${String(current)}`);
        say(`  see: scrapeflow monitor changes ${monitor.name}`);
        if (stack.uiUrl) {
          say('');
          say(`see the batches in the Temporal Web UI: ${stack.uiUrl}/namespaces/default/workflows`);
          for (const id of run.batchIds)
            say(`  ${stack.uiUrl}/namespaces/default/workflows/${encodeURIComponent(id)}`);
        }
        if (flags.keep) {
          say('');
          say(`the stack keeps running; in another terminal: ${cliEnvLine(stack)}`);
          say('Ctrl-C stops everything');
          await untilSignal();
        }
      } finally {
        await stack.stop();
      }
    });
}

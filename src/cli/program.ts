/**
 * The `scrapeflow` program. Each subcommand lives in its own module under ./commands and registers
 * itself on the program; this file only wires them and owns the process exit code. Two entry points run
 * it: ./main.ts (the published package) and devkit/cli/main.ts (a repository checkout), which adds the
 * devkit's commands.
 */
import { Command, CommanderError } from 'commander';
import { commands, type DevkitCommands } from './commands/index.js';
import { toCliError } from './context.js';
import { ExitCode } from './exit.js';
import { stopTracing } from '../tracing/index.js';

export function buildProgram(devkit?: DevkitCommands): Command {
  const program = new Command('scrapeflow')
    .description('Durable, bounded, pausable OmniScrape batches on Temporal')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  for (const register of commands(devkit)) register(program);
  return program;
}

export async function runCli(argv: string[], devkit?: DevkitCommands): Promise<void> {
  try {
    await buildProgram(devkit).parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version exit with 0; usage errors were already printed by commander.
      process.exitCode = err.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
      return;
    }
    const failure = toCliError(err);
    if (failure) {
      process.stderr.write(`scrapeflow: ${failure.message}\n`);
      process.exitCode = failure.exitCode;
      return;
    }
    process.stderr.write(`scrapeflow: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = ExitCode.failure;
  } finally {
    // The spans still buffered leave before the process does (nothing to do when it does not trace).
    await stopTracing();
  }
}

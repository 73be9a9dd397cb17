import type { Command } from 'commander';
import { CliError, ExitCode } from '../exit.js';
import { registerCluster } from './cluster.js';
import { registerCodecServer } from './codec-server.js';
import { registerControl } from './control.js';
import { registerCosts } from './costs.js';
import { registerInspect } from './inspect.js';
import { registerList } from './list.js';
import { registerMonitor } from './monitor.js';
import { registerPrune } from './prune.js';
import { registerRedrive } from './redrive.js';
import { registerResults } from './results.js';
import { registerServe } from './serve.js';
import { registerStart } from './start.js';
import { registerStatus } from './status.js';
import { registerTokens } from './tokens.js';
import { registerWebhooks } from './webhooks.js';
import { registerWorker } from './worker.js';

/** Each entry adds one subcommand to the program. */
export type RegisterCommand = (program: Command) => void;

/**
 * The commands of the devkit (devkit/cli/commands): the embedded stack, the demo and the test doubles.
 * They come with the repository checkout, not with the published package, whose program names them only
 * to say where they are.
 */
export const DEVKIT_COMMANDS = ['demo', 'dev', 'local-api', 'demo-site'] as const;
export type DevkitCommand = (typeof DEVKIT_COMMANDS)[number];
export type DevkitCommands = Record<DevkitCommand, RegisterCommand>;

/** The program's subcommands in the order of its help; `devkit` (a checkout's entry point) fills in its own. */
export function commands(devkit?: DevkitCommands): RegisterCommand[] {
  const fromDevkit = (name: DevkitCommand) => devkit?.[name] ?? registerNotInstalled(name);
  return [
    fromDevkit('demo'),
    registerStart,
    registerStatus,
    registerCosts,
    registerInspect,
    registerControl,
    registerList,
    registerResults,
    registerRedrive,
    registerMonitor,
    registerPrune,
    registerWorker,
    registerServe,
    registerTokens,
    registerWebhooks,
    registerCluster,
    registerCodecServer,
    fromDevkit('dev'),
    fromDevkit('local-api'),
    fromDevkit('demo-site'),
  ];
}

/** A hidden command that takes any arguments and fails with where the devkit command is. */
function registerNotInstalled(name: DevkitCommand): RegisterCommand {
  return (program) => {
    program
      .command(name, { hidden: true })
      .helpOption(false)
      .allowUnknownOption()
      .allowExcessArguments()
      .action(() => {
        throw new CliError(
          `\`${name}\` comes with the repository checkout, not with the installed package: clone the ` +
            `scrapeflow repository, run \`npm ci && npm run build\` there, then \`./bin/scrapeflow ${name}\``,
          ExitCode.usage,
        );
      });
  };
}

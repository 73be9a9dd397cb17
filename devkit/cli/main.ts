/**
 * The `scrapeflow` executable of a repository checkout: the published program (src/cli/program.ts) with
 * the devkit's commands (dev, demo, local-api, demo-site). bin/scrapeflow runs it when it is built.
 */
import { runCli } from '../../src/cli/program.js';
import { devkitCommands } from './commands/index.js';

await runCli(process.argv, devkitCommands);

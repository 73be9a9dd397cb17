/**
 * The published `scrapeflow` executable's entry point. In a repository checkout bin/scrapeflow runs
 * devkit/cli/main.ts instead, the same program with the devkit's commands.
 */
import { runCli } from './program.js';

await runCli(process.argv);

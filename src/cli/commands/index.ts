import type { Command } from 'commander';
import { registerDemoSite } from './demo-site.js';
import { registerLocalApi } from './local-api.js';
import { registerWorker } from './worker.js';

/** Each entry adds one subcommand to the program. */
export type RegisterCommand = (program: Command) => void;

export const commands: RegisterCommand[] = [registerLocalApi, registerWorker, registerDemoSite];

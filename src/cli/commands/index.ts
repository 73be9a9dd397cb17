import type { Command } from 'commander';
import { registerCluster } from './cluster.js';
import { registerCodecServer } from './codec-server.js';
import { registerControl } from './control.js';
import { registerCosts } from './costs.js';
import { registerDemo } from '../../../devkit/cli/commands/demo.js';
import { registerDemoSite } from '../../../devkit/cli/commands/demo-site.js';
import { registerDev } from '../../../devkit/cli/commands/dev.js';
import { registerInspect } from './inspect.js';
import { registerList } from './list.js';
import { registerLocalApi } from '../../../devkit/cli/commands/local-api.js';
import { registerPrune } from './prune.js';
import { registerRedrive } from './redrive.js';
import { registerResults } from './results.js';
import { registerServe } from './serve.js';
import { registerStart } from './start.js';
import { registerStatus } from './status.js';
import { registerWorker } from './worker.js';

/** Each entry adds one subcommand to the program. */
export type RegisterCommand = (program: Command) => void;

export const commands: RegisterCommand[] = [
  registerDemo,
  registerStart,
  registerStatus,
  registerCosts,
  registerInspect,
  registerControl,
  registerList,
  registerResults,
  registerRedrive,
  registerPrune,
  registerWorker,
  registerServe,
  registerCluster,
  registerCodecServer,
  registerDev,
  registerLocalApi,
  registerDemoSite,
];

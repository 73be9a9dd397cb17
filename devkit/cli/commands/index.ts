import type { DevkitCommands } from '../../../src/cli/commands/index.js';
import { registerDemoSite } from './demo-site.js';
import { registerDemo } from './demo.js';
import { registerDev } from './dev.js';
import { registerLocalApi } from './local-api.js';

/** The devkit's subcommands, in the places the program keeps for them (DEVKIT_COMMANDS). */
export const devkitCommands: DevkitCommands = {
  demo: registerDemo,
  dev: registerDev,
  'local-api': registerLocalApi,
  'demo-site': registerDemoSite,
};

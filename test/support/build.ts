/**
 * Another build of scrapeflow on this machine, as a deploy ships one: this build's compiled code with a
 * workflow bundle of its own (`bin/scrapeflow`, `package.json`, `dist/src`, `dist/workflow-bundle.js`,
 * and `node_modules`), so a test can replace running workers by workers of "build B". The code is
 * copied, not linked: a worker finds its bundle next to its own files (src/workers/workflows.ts).
 */
import { cp, mkdtemp, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode } from '@temporalio/worker';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/**
 * Bundles a workflow module (a compiled file under dist/), as `npm run build` bundles the product's;
 * `sdk`, a compiled module, stands in for `@temporalio/workflow` in it.
 */
export async function bundleWorkflows(workflowsPath: string, sdk?: string): Promise<string> {
  const quiet = () => undefined;
  const { code } = await bundleWorkflowCode({
    workflowsPath,
    ...(sdk
      ? {
          webpackConfigHook: (config) => ({
            ...config,
            resolve: { ...config.resolve, alias: { ...config.resolve?.alias, '@temporalio/workflow$': sdk } },
          }),
        }
      : {}),
    logger: { log: quiet, trace: quiet, debug: quiet, info: quiet, warn: console.warn, error: console.error },
  });
  return code;
}

export interface Build {
  /** The build's `scrapeflow` executable (for `stack.startWorker(env, queue, bin)`). */
  bin: string;
  remove(): Promise<void>;
}

/** Lays out a build in a temporary directory whose workflow code is `workflowBundle`. */
export async function makeBuild(workflowBundle: string): Promise<Build> {
  const dir = await mkdtemp(join(tmpdir(), 'scrapeflow-build-'));
  await Promise.all([
    cp(join(ROOT, 'bin'), join(dir, 'bin'), { recursive: true }),
    cp(join(ROOT, 'package.json'), join(dir, 'package.json')),
    cp(join(ROOT, 'dist', 'src'), join(dir, 'dist', 'src'), { recursive: true }),
    symlink(await realpath(join(ROOT, 'node_modules')), join(dir, 'node_modules'), 'dir'),
  ]);
  await writeFile(join(dir, 'dist', 'workflow-bundle.js'), workflowBundle);
  return { bin: join(dir, 'bin', 'scrapeflow'), remove: () => rm(dir, { recursive: true, force: true }) };
}

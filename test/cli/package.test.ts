/**
 * The published package holds the product only: `npm pack` lists no devkit file, and its CLI (bin and
 * dist/src, no dist/devkit) answers a devkit command with where to find it instead of an unknown command.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { makeBuild, type Build } from '../support/build.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** Runs a command to its end; a non-zero exit is a result, not a rejection. */
async function run(file: string, args: string[], cwd = ROOT) {
  try {
    const { stdout, stderr } = await promisify(execFile)(file, args, { cwd, maxBuffer: 16 << 20 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const failed = err as { code?: unknown; stdout?: string; stderr?: string };
    if (typeof failed.code !== 'number') throw err;
    return { code: failed.code, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}

describe('the published package', () => {
  it('npm pack lists the product and no devkit file', async () => {
    const packed = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts']);
    assert.equal(packed.code, 0, packed.stderr);
    const [manifest] = JSON.parse(packed.stdout) as { files: { path: string }[] }[];
    const paths = manifest?.files.map((f) => f.path) ?? [];
    assert.ok(paths.includes('bin/scrapeflow'));
    assert.ok(paths.includes('dist/src/cli/main.js'));
    assert.deepEqual(
      paths.filter((p) => /(^|\/)devkit\//.test(p)),
      [],
    );
  });

  describe('its CLI, without the devkit', () => {
    let build: Build;
    // The package's layout (bin, package.json, dist/src); no worker runs, so no workflow bundle.
    before(async () => (build = await makeBuild('')));
    after(() => build.remove());

    it('says where the devkit commands are', async () => {
      for (const args of [['demo'], ['local-api', '--help']]) {
        const result = await run(process.execPath, [build.bin, ...args]);
        assert.equal(result.code, 2, args.join(' '));
        assert.match(result.stderr, /comes with the repository checkout, not with the installed package/);
        assert.doesNotMatch(result.stderr, /unknown command|\n\s+at /);
      }
    });

    it('lists only the product commands in its help', async () => {
      const help = await run(process.execPath, [build.bin, '--help']);
      assert.equal(help.code, 0);
      assert.match(help.stdout, /^\s+start /m);
      assert.doesNotMatch(help.stdout, /^\s+(demo|dev|local-api|demo-site)\b/m);
    });
  });
});

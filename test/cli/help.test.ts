/**
 * Every command's `--help`, in this process: the program the executable runs (with the devkit's
 * commands, as in a checkout) answers each with its usage and exit code 0, and an unknown option with
 * a usage error (exit 2) that names it. And building the program loads none of what the commands run
 * with (the Temporal SDK, the store drivers, Fastify, Playwright), so every CLI start stays quick.
 */
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CommanderError } from 'commander';
import { buildProgram } from '../../src/cli/program.js';
import { devkitCommands } from '../../devkit/cli/commands/index.js';

/** Parses `args` as `scrapeflow <args>` would, capturing what commander prints and how it exits. */
async function parse(args: string[]): Promise<{ exitCode: number; out: string; err: string }> {
  const program = buildProgram(devkitCommands);
  let out = '';
  let err = '';
  for (const command of [program, ...program.commands])
    command.configureOutput({ writeOut: (s) => (out += s), writeErr: (s) => (err += s) });
  try {
    await program.parseAsync(args, { from: 'user' });
  } catch (error) {
    assert.ok(error instanceof CommanderError, String(error));
    return { exitCode: error.exitCode, out, err };
  }
  assert.fail(`scrapeflow ${args.join(' ')} ran its action`);
}

describe('scrapeflow --help', () => {
  it('every command prints its usage and exits 0', async () => {
    const names = buildProgram(devkitCommands).commands.map((c) => c.name());
    for (const expected of ['start', 'status', 'pause', 'resume', 'cancel', 'list', 'results'])
      assert.ok(names.includes(expected), expected);
    for (const expected of ['dead-letters', 'redrive', 'serve', 'worker', 'dev', 'demo'])
      assert.ok(names.includes(expected), expected);
    for (const name of names) {
      const help = await parse([name, '--help']);
      assert.equal(help.exitCode, 0, name);
      assert.match(help.out, new RegExp(`^Usage: scrapeflow ${name} `), name);
    }
    const top = await parse(['--help']);
    assert.equal(top.exitCode, 0);
    for (const name of names) assert.ok(top.out.includes(name), `the top help lists ${name}`);
  });

  it('an unknown option is a usage error naming it', async () => {
    const bad = await parse(['status', 'x', '--no-such-flag']);
    assert.notEqual(bad.exitCode, 0);
    assert.match(bad.err, /unknown option '--no-such-flag'/);
  });
});

describe('building the program', () => {
  it('loads none of the packages the commands run with', () => {
    // A process of its own: this one has loaded them for other tests. The packages are CommonJS, so
    // every module they load is in the require cache.
    const entries = ['../../src/cli/program.js', '../../devkit/cli/commands/index.js'];
    const script = `
      import { createRequire } from 'node:module';
      const require = createRequire(import.meta.url);
      for (const entry of ${JSON.stringify(entries.map((e) => new URL(e, import.meta.url).href))})
        await import(entry);
      const packages = Object.keys(require.cache).map((p) => /node_modules\\/((@[^/]+\\/)?[^/]+)/.exec(p)?.[1]);
      process.stdout.write(JSON.stringify([...new Set(packages.filter(Boolean))]));`;
    const loaded = JSON.parse(
      execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' }),
    ) as string[];
    for (const heavy of [
      '@temporalio/client',
      '@temporalio/worker',
      '@temporalio/proto',
      'pg',
      'fastify',
      'playwright',
    ])
      assert.ok(
        !loaded.includes(heavy),
        `${heavy} is loaded only by the commands that need it (loaded: ${loaded.join(', ')})`,
      );
  });
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { CLUSTER_DYNAMIC_CONFIG } from '../../src/temporal/cluster-up.js';

const ROOT = new URL('../../../', import.meta.url).pathname;
const hasCompose = spawnSync('docker-compose', ['version'], { stdio: 'ignore' }).status === 0;

describe('docker-compose.yml', () => {
  it(
    'validates with docker-compose config -q',
    { skip: hasCompose ? false : 'docker-compose not installed (scripts/setup.sh installs it)' },
    () => {
      const result = spawnSync('docker-compose', ['-f', 'docker-compose.yml', 'config', '-q'], {
        cwd: ROOT,
        encoding: 'utf8',
        env: { PATH: process.env.PATH ?? '' },
      });
      assert.equal(result.status, 0, result.stderr);
    },
  );

  it('runs the Temporal release the tests run, set up by its own tools and `scrapeflow cluster setup`', () => {
    const compose = readFileSync(`${ROOT}docker-compose.yml`, 'utf8');
    const setup = readFileSync(`${ROOT}scripts/setup.sh`, 'utf8');
    const version = /^TEMPORAL_SERVER_VERSION=v(\S+)$/m.exec(setup)?.[1];
    assert.ok(version, 'setup.sh pins the server release');
    assert.match(compose, new RegExp(`image: temporalio/server:${version.replaceAll('.', '\\.')}\n`));
    assert.match(compose, new RegExp(`image: temporalio/admin-tools:${version.replaceAll('.', '\\.')}\n`));
    assert.doesNotMatch(compose, /auto-setup/, 'the deprecated auto-setup image is gone');
    assert.match(compose, /command: \['cluster', 'setup'\]/);
    assert.match(compose, /deploy\/temporal\/dynamicconfig\.yaml/);
    for (const role of ['workflows', 'scrape', 'browser'])
      assert.match(compose, new RegExp(`command: \\['worker', '--queue', '${role}'\\]`), role);
    // The attributes themselves are registered by `cluster setup`, from the code's own list.
    assert.doesNotMatch(compose, /search-attribute create/);
  });

  it('gives the compose server the dynamic config `cluster up` gives its own', () => {
    const file = readFileSync(`${ROOT}deploy/temporal/dynamicconfig.yaml`, 'utf8');
    const entries = [...file.matchAll(/^([\w.]+):\n {2}- value: (.+)$/gm)].map(([, key, value]) => [
      key,
      JSON.parse(value!) as unknown,
    ]);
    assert.deepEqual(Object.fromEntries(entries), CLUSTER_DYNAMIC_CONFIG);
  });

  it('has no top-level name (docker-compose 1.29 rejects it) and runs as non-root in the image', () => {
    assert.doesNotMatch(readFileSync(`${ROOT}docker-compose.yml`, 'utf8'), /^name:/m);
    const dockerfile = readFileSync(`${ROOT}Dockerfile`, 'utf8');
    assert.match(dockerfile, /^USER node$/m);
    assert.equal(dockerfile.match(/^FROM /gm)?.length, 2);
    assert.doesNotMatch(dockerfile, /chromium|playwright install/i);
  });
});

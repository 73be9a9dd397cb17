import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { SEARCH_ATTRIBUTES } from '../../src/temporal/search-attributes.js';

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

  it('registers every search attribute the code defines, with its type', () => {
    const compose = readFileSync(`${ROOT}docker-compose.yml`, 'utf8');
    for (const [name, type] of Object.entries(SEARCH_ATTRIBUTES))
      assert.ok(compose.includes(`${name}=${type}`), `${name}=${type}`);
  });

  it('has no top-level name (docker-compose 1.29 rejects it) and runs as non-root in the image', () => {
    assert.doesNotMatch(readFileSync(`${ROOT}docker-compose.yml`, 'utf8'), /^name:/m);
    const dockerfile = readFileSync(`${ROOT}Dockerfile`, 'utf8');
    assert.match(dockerfile, /^USER node$/m);
    assert.equal(dockerfile.match(/^FROM /gm)?.length, 2);
    assert.doesNotMatch(dockerfile, /chromium|playwright install/i);
  });
});

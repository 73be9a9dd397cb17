import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { CLUSTER_DYNAMIC_CONFIG } from '../../src/temporal/cluster/server-config.js';

const ROOT = new URL('../../../', import.meta.url).pathname;
const hasCompose = spawnSync('docker-compose', ['version'], { stdio: 'ignore' }).status === 0;

/**
 * The file with its variables substituted as docker-compose does: `${VAR}`, `${VAR:-default}`, and
 * `${VAR:?message}`, which fails with the message when VAR is unset or empty; `$$` is a literal `$`.
 */
function interpolate(text: string, env: Record<string, string>): string {
  return text.replace(
    /\$\$|\$\{(\w+)(?:(:?[-?])([^}]*))?\}/g,
    (_whole: string, name?: string, sep?: string, arg: string = '') => {
      if (name === undefined) return '$';
      const value = env[name];
      const missing = sep?.startsWith(':') ? !value : value === undefined;
      if (!missing) return value ?? '';
      if (sep?.endsWith('?')) throw new Error(`required variable ${name} is missing a value: ${arg}`);
      return sep?.endsWith('-') ? arg : '';
    },
  );
}

/** `service: [ports]` of every `ports:` list (the file writes them as quoted one-line items). */
function publishedPorts(text: string): Record<string, string[]> {
  const ports: Record<string, string[]> = {};
  let service = '';
  let inPorts = false;
  for (const line of text.split('\n')) {
    const top = /^ {2}([\w-]+):\s*$/.exec(line);
    if (top) [service, inPorts] = [top[1]!, false];
    else if (/^ {4}ports:\s*$/.test(line)) inPorts = true;
    else if (inPorts && /^ {6}- /.test(line))
      (ports[service] ??= []).push(line.trim().slice(2).replace(/^'|'$/g, ''));
    else if (!/^ {6}/.test(line)) inPorts = false;
  }
  return ports;
}

const OWN = { POSTGRES_PASSWORD: 'pw-of-my-own', SCRAPEFLOW_API_TOKEN: 'token-of-my-own' };

describe('docker-compose.yml', () => {
  it('publishes every port on 127.0.0.1 only (the resolved ports, as `docker-compose config` shows them)', (t) => {
    const resolved = interpolate(readFileSync(`${ROOT}docker-compose.yml`, 'utf8'), OWN);
    const ports = publishedPorts(resolved);
    t.diagnostic(`published ports: ${JSON.stringify(ports)}`);
    assert.deepEqual(ports, {
      temporal: ['127.0.0.1:7233:7233'],
      'temporal-ui': ['127.0.0.1:8080:8080'],
      service: ['127.0.0.1:8787:8787'],
    });
    assert.doesNotMatch(resolved, /^\s+- '?\d+:\d+'?$/m, 'no port published on every interface');
    assert.doesNotMatch(resolved, /0\.0\.0\.0:\d+:/);
  });

  it('refuses to start without a database password and a service token of your own (no defaults)', () => {
    const text = readFileSync(`${ROOT}docker-compose.yml`, 'utf8');
    for (const name of Object.keys(OWN) as (keyof typeof OWN)[]) {
      const without = { ...OWN, [name]: '' };
      assert.throws(
        () => interpolate(text, without),
        new RegExp(`required variable ${name} is missing a value: set ${name} to a .* of your own`),
      );
    }
    assert.doesNotMatch(text, /POSTGRES_PASSWORD:-|SCRAPEFLOW_API_TOKEN:-/, 'no default password or token');
    const resolved = interpolate(text, OWN);
    assert.match(
      resolved,
      /SCRAPEFLOW_DATABASE_URL: postgres:\/\/scrapeflow:pw-of-my-own@postgresql:5432\/scrapeflow/,
    );
    assert.match(resolved, /POSTGRES_PASSWORD: pw-of-my-own\n/);
    assert.match(resolved, /SCRAPEFLOW_API_TOKEN: token-of-my-own\n/);
  });

  it(
    'validates with docker-compose config -q',
    { skip: hasCompose ? false : 'docker-compose not installed (scripts/setup.sh installs it)' },
    () => {
      const result = spawnSync('docker-compose', ['-f', 'docker-compose.yml', 'config', '-q'], {
        cwd: ROOT,
        encoding: 'utf8',
        env: { PATH: process.env.PATH ?? '', ...OWN },
      });
      assert.equal(result.status, 0, result.stderr);
    },
  );

  it(
    'docker-compose config: ports on 127.0.0.1 only, and a refusal naming each missing variable',
    { skip: hasCompose ? false : 'docker-compose not installed (scripts/setup.sh installs it)' },
    (t) => {
      const config = (env: Record<string, string>) =>
        spawnSync('docker-compose', ['-f', 'docker-compose.yml', 'config'], {
          cwd: ROOT,
          encoding: 'utf8',
          env: { PATH: process.env.PATH ?? '', ...env },
        });
      const ok = config(OWN);
      assert.equal(ok.status, 0, ok.stderr);
      const ports = [...ok.stdout.matchAll(/^ {4}ports:\n((?: {4}- .*\n)+)/gm)].flatMap(([, list]) =>
        list!
          .trim()
          .split('\n')
          .map((l) => l.trim().slice(2)),
      );
      t.diagnostic(`docker-compose config ports: ${ports.join(', ')}`);
      assert.deepEqual(ports.sort(), [
        '127.0.0.1:7233:7233/tcp',
        '127.0.0.1:8080:8080/tcp',
        '127.0.0.1:8787:8787/tcp',
      ]);
      for (const name of Object.keys(OWN)) {
        const refused = config({ ...OWN, [name]: '' });
        assert.notEqual(refused.status, 0);
        assert.match(refused.stderr, new RegExp(`Missing mandatory value .*: set ${name} to a `));
      }
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

#!/usr/bin/env node
// Runs the compiled test files with Node's test runner. Usage: node scripts/run-tests.mjs [substring...]
// Test files matching any given substring run; with none, all of them but the chaos and cluster suites
// (test:chaos, test:cluster), which run on their own: each loads the machine by itself.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = 'dist/test';
const walk = (dir) =>
  readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : path.endsWith('.test.js') ? [path] : [];
  });
const filters = process.argv.slice(2);
const files = walk(root)
  .filter((f) =>
    filters.length ? filters.some((s) => f.includes(s)) : !f.includes('/chaos/') && !f.includes('/cluster/'),
  )
  .sort();
if (files.length === 0) {
  console.error(`no test files matched ${filters.join(', ') || root}`);
  process.exit(1);
}
const concurrency = process.env.TEST_CONCURRENCY ?? '2';
// A hung test fails instead of holding CI to its limit: after 10 minutes, or 25 for the chaos and
// cluster suites, whose one batch runs for minutes on PostgreSQL through kills and restarts.
const suite = files.some((f) => f.includes('/chaos/') || f.includes('/cluster/'));
const timeoutMs = suite ? 1_500_000 : 600_000;
const result = spawnSync(
  process.execPath,
  [
    '--test',
    `--test-concurrency=${concurrency}`,
    `--test-timeout=${timeoutMs}`,
    '--test-reporter=spec',
    ...files,
  ],
  { stdio: 'inherit' },
);
process.exit(result.status ?? 1);

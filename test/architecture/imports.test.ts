/**
 * The import graph of the product and the devkit, type imports included (ESLint's `import-x/no-cycle`
 * skips `import type`, and a type-only cycle still ties two modules' meanings together): no cycle, and
 * the SDK's internal modules (`@temporalio/<package>/lib/…`) reached from one module only.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { importGraph, importCycles } from './graph.js';

const graph = importGraph(['src', 'devkit']);

test('the import graph of src/ and devkit/ has no cycle, type imports included', () => {
  assert.ok(graph.size > 100, `read ${graph.size} modules`);
  assert.deepEqual(importCycles(graph), []);
});

test('a cycle planted in a graph is found, through type-only imports too', () => {
  const planted = new Map([
    ['a.ts', { local: ['b.ts'], external: [] }],
    ['b.ts', { local: ['c.ts'], external: [] }],
    ['c.ts', { local: ['a.ts'], external: [] }],
    ['d.ts', { local: ['a.ts'], external: [] }],
  ]);
  assert.deepEqual(importCycles(planted), [['a.ts', 'b.ts', 'c.ts']]);
});

/**
 * The OpenTelemetry interceptors' workflow module is published only under `lib/workflow` (the path its
 * README gives for `workflowInterceptorModules`): a public entry, not an internal one.
 */
const PUBLIC_LIB_PATHS = /^@temporalio\/interceptors-opentelemetry\/lib\/workflow\//;

test("src/client/history.ts is the one module that imports the SDK's internal paths", () => {
  const internal = (name: string) => /^@temporalio\/[^/]+\/lib\//.test(name) && !PUBLIC_LIB_PATHS.test(name);
  const importers = [...graph].filter(([, imports]) => imports.external.some(internal)).map(([file]) => file);
  assert.deepEqual(importers, ['src/client/history.ts']);
});

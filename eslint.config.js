// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { importX } from 'eslint-plugin-import-x';

const nodeBuiltins = [
  'fs',
  'path',
  'http',
  'https',
  'net',
  'os',
  'child_process',
  'crypto',
  'stream',
  'url',
  'util',
  'worker_threads',
  'dns',
  'tls',
  'zlib',
  'timers',
  'events',
  'process',
  'readline',
  'buffer',
];

// The product (src/, the published package) never imports the devkit (devkit/: the local OmniScrape API,
// the demo site, the embedded stack and their commands); the devkit imports the product.
const devkitImports = {
  group: ['**/devkit', '**/devkit/**'],
  message: 'src/ is the published product: it does not import devkit/ (devkit/ imports src/).',
};

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'bin/**', 'scripts/**', '.data/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { 'import-x': importX },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            {
              from: 'package',
              package: 'node:test',
              name: ['describe', 'it', 'test', 'suite', 'before', 'after', 'beforeEach', 'afterEach'],
            },
          ],
        },
      ],
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // It skips type-only imports: test/architecture/imports.test.ts fails on any cycle, types included.
      'import-x/no-cycle': 'error',
    },
  },
  {
    files: ['src/**/*.{ts,cts}'],
    rules: { 'no-restricted-imports': ['error', { patterns: [devkitImports] }] },
  },
  {
    // Workflow code runs in Temporal's deterministic sandbox: no Node built-ins, no I/O libraries.
    files: ['src/workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            ...nodeBuiltins.flatMap((m) => [m, `node:${m}`]),
            'undici',
            'pino',
            'playwright',
            'pg',
            'fastify',
            'cheerio',
          ],
          patterns: [
            {
              group: ['../activities/*', '../store/*', '../omniscrape/client*'],
              allowTypeImports: true,
              message: 'Workflows import activity types only.',
            },
            devkitImports,
          ],
        },
      ],
    },
  },
  {
    files: ['eslint.config.js'],
    ...tseslint.configs.disableTypeChecked,
  },
);

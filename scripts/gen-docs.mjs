#!/usr/bin/env node
// `npm run docs`: writes the generated references (docs/reference/cli.md from the commander program,
// docs/reference/http.md from the OpenAPI document) from the build in dist/ (devkit/docs/reference.ts).
import { writeFile } from 'node:fs/promises';
import { REFERENCE_FILES } from '../dist/devkit/docs/reference.js';

for (const [path, generate] of Object.entries(REFERENCE_FILES)) {
  await writeFile(new URL(`../${path}`, import.meta.url), await generate());
  console.log(`wrote ${path}`);
}

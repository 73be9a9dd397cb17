/**
 * The manual stays a manual: the generated references match the code they come from (regenerated in
 * memory and compared with the committed files: run `npm run docs` after changing a command or a route),
 * the README stays short enough for a newcomer, and every relative link and anchor of README.md and
 * docs/ resolves.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { brokenLinks } from '../../devkit/docs/links.js';
import { REFERENCE_FILES } from '../../devkit/docs/reference.js';

const root = new URL('../../../', import.meta.url).pathname;
const read = (path: string) => readFileSync(join(root, path), 'utf8');

const markdownUnder = (dir: string): string[] =>
  readdirSync(join(root, dir), { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? markdownUnder(path) : entry.name.endsWith('.md') ? [path] : [];
  });

describe('the manual', () => {
  it('the generated references are up to date (npm run docs)', async () => {
    for (const [path, generate] of Object.entries(REFERENCE_FILES))
      assert.equal(read(path), await generate(), `${path} is stale: run npm run docs`);
  });

  it('the README is at most 250 lines and keeps the two commands', () => {
    const readme = read('README.md');
    assert.ok(readme.split('\n').length <= 251, `README.md has ${readme.split('\n').length - 1} lines`);
    assert.ok(readme.includes('bash scripts/setup.sh && ./bin/scrapeflow demo'));
    assert.ok(readme.includes('bash scripts/setup.sh --start-postgres --cluster && npm test'));
  });

  it('every relative link and anchor of README.md and docs/ resolves', () => {
    const files = ['README.md', 'ARCHITECTURE.md', ...markdownUnder('docs')];
    assert.ok(files.includes('docs/reference/cli.md'), files.join(', '));
    assert.deepEqual(brokenLinks(root, files), []);
  });
});

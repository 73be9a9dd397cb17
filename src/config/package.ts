/** The package's own metadata, read from its package.json (the repository's, or the installed package's). */
import { readFileSync } from 'node:fs';

// Compiled to dist/src/config/package.js: the package root is three folders up, installed or not.
const manifest = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

/** The package's version (`version` of package.json). */
export const PACKAGE_VERSION = manifest.version;

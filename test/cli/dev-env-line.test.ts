import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cliEnvLine } from '../../devkit/cli/commands/dev.js';
import type { EmbeddedStack } from '../../devkit/stack/stack.js';

const stackWith = (config: Partial<EmbeddedStack['config']>) =>
  ({
    temporalAddress: '127.0.0.1:7233',
    config: { SCRAPEFLOW_DATA_DIR: '/tmp/dev store/store', ...config },
  }) as EmbeddedStack;

describe("dev's export line", () => {
  it('names the filesystem store when no database is configured, quoted for the shell', () => {
    assert.equal(
      cliEnvLine(stackWith({})),
      "export TEMPORAL_ADDRESS=127.0.0.1:7233 SCRAPEFLOW_DATA_DIR='/tmp/dev store/store'",
    );
  });

  it('names the PostgreSQL store instead, with its password masked', () => {
    const line = cliEnvLine(
      stackWith({
        SCRAPEFLOW_DATABASE_URL: "postgres://app:s3cret@db:5432/scrape?options=-c%20search_path%3Dx'y",
      }),
    );
    assert.doesNotMatch(line, /s3cret/);
    assert.match(
      line,
      /SCRAPEFLOW_DATABASE_URL='postgres:\/\/app:\*\*\*@db:5432\/scrape\?options=-c%20search_path%3Dx'\\''y'/,
    );
    assert.match(line, /put the password back/);
    assert.doesNotMatch(line, /SCRAPEFLOW_DATA_DIR/);
  });
});

/**
 * What logs and messages show of secrets held in URLs: the database password (SCRAPEFLOW_DATABASE_URL,
 * SCRAPEFLOW_CLUSTER_DATABASE_URL) is a registered secret as soon as the configuration is read, and a
 * scraped URL's `user:pass@` never reaches a log line or an activity summary.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../src/config/env.js';
import { createLogger } from '../../src/logging/logger.js';
import { redactSecrets } from '../../src/logging/secrets.js';
import { maskUrlPassword, withoutCredentials } from '../../src/logging/url-credentials.js';

/** A logger whose lines land in an array. */
function capture() {
  const lines: string[] = [];
  const logger = createLogger({
    name: 'test',
    level: 'info',
    destination: { write: (l: string) => lines.push(l) },
  });
  return { logger, lines };
}

describe('secrets in URLs', () => {
  it('the database passwords are registered secrets once the configuration is read: a log line with one is redacted', () => {
    loadConfig({
      SCRAPEFLOW_DATABASE_URL: 'postgres://scrapeflow:db-p%40ss-9713@db:5432/scrapeflow',
      SCRAPEFLOW_CLUSTER_DATABASE_URL: 'postgres://temporal:cluster-pw-5521@db:5432/temporal',
    });
    const { logger, lines } = capture();
    logger.error({ detail: 'auth failed for db-p@ss-9713 (raw db-p%40ss-9713)' }, 'with cluster-pw-5521');
    assert.equal(lines.length, 1);
    assert.doesNotMatch(lines[0]!, /9713|5521/);
    assert.match(lines[0]!, /auth failed for \[REDACTED\] \(raw \[REDACTED\]\)/);
    assert.equal(redactSecrets('password cluster-pw-5521'), 'password [REDACTED]');
  });

  it('a URL field loses its credentials in every logger and child logger; the scrape keeps the real URL', () => {
    const { logger, lines } = capture();
    const url = 'https://user:s3cret@shop.example/p?q=1';
    logger.info({ url }, 'scraped');
    logger.child({ url }).info('child');
    assert.equal(lines.length, 2);
    for (const line of lines) {
      assert.equal((JSON.parse(line) as { url: string }).url, 'https://***@shop.example/p?q=1');
      assert.doesNotMatch(line, /s3cret|user:/);
    }
    assert.equal(url, 'https://user:s3cret@shop.example/p?q=1');
  });

  it("withoutCredentials and maskUrlPassword: userinfo up to the authority's last @, other URLs untouched", () => {
    assert.equal(withoutCredentials('https://user:pass@host/'), 'https://***@host/');
    assert.equal(withoutCredentials('https://token@host:8443/a@b'), 'https://***@host:8443/a@b');
    assert.equal(withoutCredentials('http://a:b@c@host/x'), 'http://***@host/x');
    assert.equal(withoutCredentials('https://host/path?u=a@b'), 'https://host/path?u=a@b');
    assert.equal(withoutCredentials('https://host/'), 'https://host/');
    assert.equal(maskUrlPassword('postgres://sf:pw@db:5432/sf'), 'postgres://sf:***@db:5432/sf');
    assert.equal(maskUrlPassword('postgres://sf@db/sf'), 'postgres://sf@db/sf');
    assert.equal(maskUrlPassword('postgres://u:p@[bad'), 'postgres://u:***@[bad');
  });
});

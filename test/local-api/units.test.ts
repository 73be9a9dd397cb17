import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  COST_TABLE,
  ConfigError,
  cheapestPrice,
  compileMatcher,
  extract,
  loadConfigFile,
  optionsFromFlags,
  priceOf,
} from '../../devkit/local-api/index.js';
import { FaultInjector, faultRuleSchema } from '../../devkit/local-api/faults.js';

describe('local API building blocks', () => {
  const dirs: string[] = [];
  after(async () => {
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  });
  const configFile = async (content: unknown): Promise<string> => {
    const dir = await mkdtemp(join(tmpdir(), 'local-api-config-'));
    dirs.push(dir);
    const path = join(dir, 'config.json');
    await writeFile(path, typeof content === 'string' ? content : JSON.stringify(content));
    return path;
  };

  it('prices by method, solver extra, cheapest method first', () => {
    assert.deepEqual(COST_TABLE, { fast: 1, js_rendering: 5, solver: 10, baas_session: 10 });
    assert.equal(priceOf('fast', false), 1);
    assert.equal(priceOf('js_rendering', true), 15);
    assert.equal(cheapestPrice('auto'), 1);
    assert.equal(cheapestPrice('js_rendering'), 5);
  });

  it('matches globs against the whole URL and /regex/ patterns', () => {
    const glob = compileMatcher('http://*/p/1*');
    assert.ok(glob('http://127.0.0.1:80/p/17'));
    assert.ok(!glob('http://127.0.0.1:80/p/2'));
    assert.ok(!compileMatcher('*/p/1')('http://x/p/12'), 'a glob is anchored at both ends');
    assert.ok(compileMatcher('*.html?x=1')('http://a/b.html?x=1'), 'only * is special');
    assert.ok(!compileMatcher('*.html')('http://a/bxhtml'));
    assert.ok(compileMatcher('/P\\/\\d+$/i')('http://x/p/42'));
  });

  it('counts `first` per rule and consults rules in order', () => {
    const faults = new FaultInjector([
      faultRuleSchema.parse({ id: 'a', match: '*', action: 'status', status: 500, first: 1 }),
      faultRuleSchema.parse({ id: 'b', match: '*/x', action: 'success_false' }),
    ]);
    assert.equal(faults.decide('scrape', 'http://h/x')?.id, 'a');
    assert.equal(faults.decide('scrape', 'http://h/x')?.id, 'b');
    assert.equal(faults.decide('scrape', 'http://h/y'), undefined);
    assert.equal(faults.decide('async_poll', 'http://h/x'), undefined, 'polls only when listed');
    assert.deepEqual(
      faults.list().map((r) => [r.id, r.matched, r.fired]),
      [
        ['a', 3, 1],
        ['b', 1, 1],
      ],
    );
  });

  it('holds a URL to the Retry-After of a 429 rule with holdRetryAfter, then draws afresh', () => {
    let now = 1_000_000;
    const rule = (holdRetryAfter: boolean) =>
      faultRuleSchema.parse({
        id: holdRetryAfter ? 'held' : 'free',
        match: holdRetryAfter ? '*/held' : '*/free',
        action: 'status',
        status: 429,
        retryAfterSec: 2,
        first: 1,
        holdRetryAfter,
      });
    const faults = new FaultInjector([rule(true), rule(false)], () => now);
    assert.equal(faults.decide('scrape', 'http://h/held')?.id, 'held', 'the first request draws the 429');
    now += 1999;
    assert.equal(
      faults.decide('scrape', 'http://h/held')?.id,
      'held',
      'a retry within Retry-After: 429 again',
    );
    now += 1;
    assert.equal(
      faults.decide('scrape', 'http://h/held'),
      undefined,
      'after it: a fresh draw (first: 1 spent)',
    );
    assert.equal(faults.decide('scrape', 'http://h/free')?.id, 'free');
    assert.equal(
      faults.decide('scrape', 'http://h/free'),
      undefined,
      'without the flag an immediate retry passes',
    );
    assert.deepEqual(
      faults.list().map((r) => [r.id, r.fired, r.held]),
      [
        ['held', 1, 1],
        ['free', 1, 0],
      ],
    );
    assert.throws(
      () => faultRuleSchema.parse({ match: '*', action: 'status', status: 503, holdRetryAfter: true }),
      /holdRetryAfter/,
    );
  });

  it('extracts trimmed, collapsed text of the first match, or an attribute with @', () => {
    const html = `<ul><li> one\n  <b>1</b> </li><li>two</li></ul><a class="next" href="/p/2">next</a>
      <a href="mailto:x@y.z">mail</a><p></p>`;
    assert.deepEqual(
      extract(html, {
        first: 'li',
        second: 'li:nth-child(2)',
        href: 'a.next@href',
        mail: 'a[href$="@y.z"]',
        empty: 'p',
        none: 'table',
        noAttr: 'a.next@title',
      }),
      { first: 'one 1', second: 'two', href: '/p/2', mail: 'mail', empty: '', none: null, noAttr: null },
    );
    const tricky = extract(html, Object.fromEntries([['__proto__', 'b']]));
    assert.equal(Object.getPrototypeOf(tricky), Object.prototype, 'a selector name cannot set the prototype');
    assert.equal(Object.getOwnPropertyDescriptor(tricky, '__proto__')?.value, '1');
  });

  it('reads a config file, naming the field of every problem', async () => {
    const good = await configFile({
      port: 0,
      adminToken: 'admin-token-1',
      accounts: [{ id: 'a', key: 'sk-aaaa', balance: 10, concurrency: 2 }],
      faults: [{ match: '*', action: 'latency', latencyMs: 5 }],
      minPollIntervalMs: 50,
    });
    const config = await loadConfigFile(good);
    assert.equal(config.accounts[0]?.id, 'a');
    assert.deepEqual(config.faults[0]?.endpoints, ['scrape', 'async_submit']);
    const problems: Array<[unknown, RegExp]> = [
      [{ accounts: [{ id: 'a', key: 'sk-aaaa', balance: -1, concurrency: 2 }] }, /accounts\.0\.balance: /],
      [{ accounts: [{ id: 'a', key: 'k', balance: 1, concurrency: 2 }] }, /accounts\.0\.key: /],
      [{ accounts: [], faults: [{ match: '*', action: 'status', status: 200 }] }, /faults\.0\.status: /],
      [{ accounts: [], jobTtl: 5 }, /jobTtl: is not a known field/],
      [
        {
          accounts: [
            { id: 'a', key: 'sk-aaaa', balance: 1, concurrency: 1 },
            { id: 'a', key: 'sk-bbbb', balance: 1, concurrency: 1 },
          ],
        },
        /accounts\.1\.id: is a duplicate/,
      ],
      ['{ not json', /is not JSON/],
    ];
    for (const [content, message] of problems) {
      await assert.rejects(loadConfigFile(await configFile(content)), (err: Error) => {
        assert.ok(err instanceof ConfigError);
        assert.match(err.message, message);
        return true;
      });
    }
  });

  it('builds options from flags, a quick --key account next to the file', async () => {
    const path = await configFile({ accounts: [{ id: 'a', key: 'sk-aaaa', balance: 10, concurrency: 2 }] });
    const options = await optionsFromFlags({
      port: '8799',
      config: path,
      key: 'sk-quick',
      balance: '30',
      concurrency: '3',
      adminToken: 'admin-token-2',
    });
    assert.equal(options.port, 8799);
    assert.equal(options.adminToken, 'admin-token-2');
    assert.deepEqual(options.accounts[1], { id: 'cli', key: 'sk-quick', balance: 30, concurrency: 3 });
    const quick = await optionsFromFlags({ key: 'sk-quick' });
    assert.deepEqual(quick.accounts, [{ id: 'cli', key: 'sk-quick', balance: 1000, concurrency: 5 }]);
    await assert.rejects(
      optionsFromFlags({ key: 'sk-quick', balance: 'lots' }),
      /--balance: must be a whole number/,
    );
    await assert.rejects(optionsFromFlags({ port: '70000', key: 'sk-quick' }), /--port: /);
    await assert.rejects(optionsFromFlags({}), /accounts: give --key/);
  });
});

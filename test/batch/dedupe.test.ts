import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Deduper, FirstIndexTable, dedupeKey } from '../../src/batch/dedupe.js';
import type { Step } from '../../src/batch/steps.js';
import type { UrlItem } from '../../src/store/types.js';

const digestOf = (n: number) => createHash('sha256').update(String(n)).digest();

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

describe('duplicate detection', () => {
  it('one key for the WHATWG-normalised href; the fragment and the steps tell lines apart', () => {
    const base = dedupeKey({ url: 'https://example.com/a' });
    for (const same of [
      'HTTPS://Example.COM/a',
      'https://example.com:443/a',
      'https://example.com/b/../a',
      'https://example.com/./a',
    ])
      assert.equal(dedupeKey({ url: same }), base, same);
    for (const other of [
      'https://example.com/a#x',
      'https://example.com/a?',
      'http://example.com/a',
      'https://example.com/A',
    ])
      assert.notEqual(dedupeKey({ url: other }), base, other);
    const click: Step[] = [{ action: 'click', selector: '#more' }];
    const wait: Step[] = [{ action: 'wait', ms: 100 }];
    assert.notEqual(dedupeKey({ url: 'https://example.com/a', steps: click }), base);
    assert.notEqual(
      dedupeKey({ url: 'https://example.com/a', steps: click }),
      dedupeKey({ url: 'https://example.com/a', steps: wait }),
    );
    assert.equal(
      dedupeKey({ url: 'https://example.com/a', steps: click }),
      dedupeKey({ url: 'HTTPS://EXAMPLE.com/a', steps: [{ action: 'click', selector: '#more' }] }),
    );
  });

  it('marks every later line of a URL with the index of its first, keeping its own tags', async () => {
    const deduper = new Deduper();
    const items: Omit<UrlItem, 'index'>[] = [
      { url: 'https://example.com/a', tags: ['one'] },
      { url: 'https://example.com/b' },
      { url: 'HTTPS://EXAMPLE.com/a', tags: ['two'] },
      { url: 'https://example.com/a', steps: [{ action: 'click', selector: '#x' }] },
      { url: 'https://example.com/b', duplicateOf: 7 },
      { url: 'https://example.com/a' },
      { url: 'https://example.com/a', steps: [{ action: 'click', selector: '#x' }] },
      { url: 'https://example.com/c', duplicateOf: 0 },
    ];
    const marked = await collect(deduper.mark(items));
    assert.deepEqual(
      marked.map((item) => item.duplicateOf),
      [undefined, undefined, 0, undefined, 1, 0, 3, undefined],
      'a given duplicateOf is replaced by the real one (or dropped)',
    );
    assert.deepEqual(marked[2], { url: 'HTTPS://EXAMPLE.com/a', tags: ['two'], duplicateOf: 0 });
    assert.equal(deduper.duplicates, 4);
  });

  it('grows its table as keys come, and still answers every first index', () => {
    const table = new FirstIndexTable(16);
    assert.equal(table.capacity, 16);
    for (let i = 0; i < 10_000; i++) assert.equal(table.firstOrAdd(digestOf(i), i * 3), undefined);
    assert.equal(table.size, 10_000);
    assert.equal(table.capacity, 32_768, 'at most half full');
    for (let i = 0; i < 10_000; i++) assert.equal(table.firstOrAdd(digestOf(i), 99), i * 3);
    assert.equal(table.size, 10_000);
    assert.throws(() => table.firstOrAdd(digestOf(-1), -1), /index must be an integer/);
  });

  it('holds a million keys in typed arrays of 40 MiB', () => {
    const table = new FirstIndexTable();
    const n = 1_000_000;
    const digest = Buffer.alloc(16);
    for (let i = 0; i < n; i++) {
      // Distinct digests without hashing a million times: the table only needs them to differ.
      digest.writeUInt32BE(Math.imul(i, 0x9e3779b1) >>> 0, 0);
      digest.writeUInt32BE(i, 12);
      assert.equal(table.firstOrAdd(digest, i), undefined);
    }
    assert.equal(table.size, n);
    assert.equal(table.capacity, 2 ** 21);
    for (let i = 0; i < n; i += 997) {
      digest.writeUInt32BE(Math.imul(i, 0x9e3779b1) >>> 0, 0);
      digest.writeUInt32BE(i, 12);
      assert.equal(table.firstOrAdd(digest, 0), i);
    }
  });
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_SEARCHABLE_URL_BYTES, searchableUrl } from '../../src/temporal/search-attributes.js';

describe('searchableUrl', () => {
  it('keeps a URL that fits whole', () => {
    const url = `http://example.test/p/1?q=${'a'.repeat(1900)}`;
    assert.equal(searchableUrl(url), url);
  });

  it('cuts a long URL to the byte limit, never inside a character', () => {
    const ascii = searchableUrl(`http://example.test/?q=${'a'.repeat(8000)}`);
    assert.ok(ascii.endsWith('…'));
    assert.equal(Buffer.byteLength(ascii.slice(0, -1)), MAX_SEARCHABLE_URL_BYTES);
    // Four-byte characters (surrogate pairs in JS strings) straddling the limit are dropped whole.
    const wide = searchableUrl(`http://example.test/${'😀'.repeat(1000)}`);
    const kept = wide.slice(0, -1);
    assert.ok(Buffer.byteLength(kept) <= MAX_SEARCHABLE_URL_BYTES);
    assert.ok(!/[\uD800-\uDBFF]$/.test(kept), 'no lone high surrogate at the cut');
    assert.ok(Buffer.byteLength(wide) <= 2048, 'under Temporal’s 2 KB value limit, ellipsis included');
  });
});

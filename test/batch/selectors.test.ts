import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseSelector, selectorError } from '../../src/batch/selectors.js';

describe('selectors', () => {
  it('reads an @attr suffix only at the very end, never as the whole selector', () => {
    assert.deepEqual(parseSelector('a.next@href'), { css: 'a.next', attr: 'href' });
    assert.deepEqual(parseSelector('a.next @data-id'), { css: 'a.next', attr: 'data-id' });
    assert.deepEqual(parseSelector('a[href$="@y.z"]'), { css: 'a[href$="@y.z"]' });
    assert.deepEqual(parseSelector('@href'), { css: '@href' });
  });

  it('accepts a selector that compiles and names the problem of one that does not', () => {
    assert.equal(selectorError('li > a'), undefined);
    assert.equal(selectorError('img@src'), undefined);
    assert.match(selectorError('li[') ?? '', /not a valid CSS selector/);
    assert.equal(selectorError('   @href'), 'is empty');
  });
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SearchAttributeType } from '@temporalio/common';
import {
  ALL_SEARCH_ATTRIBUTES,
  MAX_KEYWORD_LENGTH,
  SEARCH_ATTRIBUTES,
  countAttributes,
} from '../../src/temporal/search-attributes.js';
import { batchOptionsSchema } from '../../src/batch/options.js';
import { PAUSE_REASONS } from '../../src/batch/progress.js';
import { BATCH_ID_PATTERN, STORED_BATCH_ID_PATTERN } from '../../src/store/types.js';

describe('search attributes', () => {
  it('has no Text attribute (PostgreSQL visibility cannot index URLs in one)', () => {
    assert.ok(ALL_SEARCH_ATTRIBUTES.every((key) => (key.type as string) !== SearchAttributeType.TEXT));
    assert.deepEqual(Object.values(SEARCH_ATTRIBUTES).sort(), [
      'Int',
      'Int',
      'Int',
      'Keyword',
      'Keyword',
      'Keyword',
      'Keyword',
      'Keyword',
    ]);
  });

  it('writes no Keyword value longer than SQL visibility stores (varchar 255)', () => {
    const longest = (pattern: RegExp) => {
      let n = 1;
      while (pattern.test('a'.repeat(n + 1))) n++;
      return n;
    };
    assert.ok(longest(BATCH_ID_PATTERN) <= MAX_KEYWORD_LENGTH, 'batch ids (ScrapeflowBatchId)');
    assert.ok(longest(STORED_BATCH_ID_PATTERN) <= MAX_KEYWORD_LENGTH, 'stored batch ids');
    const account = batchOptionsSchema.shape.account;
    assert.ok(account.safeParse('a'.repeat(MAX_KEYWORD_LENGTH)).success === false, 'account labels');
    assert.ok(PAUSE_REASONS.every((r) => r.length <= MAX_KEYWORD_LENGTH));
  });

  it('counts a batch or page by outcome', () => {
    const values = countAttributes({ succeeded: 3, failed: 1, dead_lettered: 0 }).map((a) => [
      a.key.name,
      a.value,
    ]);
    assert.deepEqual(values, [
      ['ScrapeflowSucceeded', 3],
      ['ScrapeflowFailed', 1],
      ['ScrapeflowDeadLettered', 0],
    ]);
  });
});

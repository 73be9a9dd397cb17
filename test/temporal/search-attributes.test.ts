import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SearchAttributeType } from '@temporalio/common';
import {
  ALL_SEARCH_ATTRIBUTES,
  SEARCH_ATTRIBUTES,
  countAttributes,
} from '../../src/temporal/search-attributes.js';

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
    ]);
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

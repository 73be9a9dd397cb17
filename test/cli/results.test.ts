import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'csv-parse/sync';
import { CSV_COLUMNS, formatResults } from '../../src/client/results.js';
import type { ResultRecord } from '../../src/store/types.js';

async function exported(records: ResultRecord[]): Promise<string> {
  async function* source() {
    for (const record of records) yield await Promise.resolve(record);
  }
  let text = '';
  for await (const chunk of formatResults(source(), 'csv')) text += chunk;
  return text;
}

const base: ResultRecord = {
  batchId: 'b-1',
  index: 0,
  url: 'https://a.example/p/1',
  status: 'succeeded',
  charged: 1,
  attempts: 1,
  finishedAt: '2026-01-01T00:00:00.000Z',
};

describe('result export as CSV', () => {
  it('neutralises cells a spreadsheet would run as formulas, in every text column', async () => {
    const text = await exported([
      {
        ...base,
        tags: ['=HYPERLINK("https://evil.example","x")', 'b'],
        fields: { '@name': '+1', price: '-2' },
        detail: '-2+3',
        reason: '@SUM(A1)',
        methodUsed: '\tfast',
        solverUsed: false,
        challengeSolved: true,
        contentRef: '\rref',
        jobId: '=1',
      },
    ]);
    const lines = text.split('\n');
    assert.equal(lines[0], CSV_COLUMNS.join(','));
    // Each such cell starts with a quote character inside a quoted field.
    assert.ok(text.includes(`,"'=HYPERLINK(""https://evil.example"",""x"");b",`), text);
    assert.ok(text.includes(`,"'@SUM(A1)","'-2+3","'\tfast",false,true,1,`), text);
    assert.ok(text.includes(`,"'\rref","'=1",`), text);
    const [header, row]: string[][] = parse(text);
    assert.deepEqual(header, [...CSV_COLUMNS]);
    const cell = (name: (typeof CSV_COLUMNS)[number]) => row?.[CSV_COLUMNS.indexOf(name)];
    for (const name of CSV_COLUMNS) assert.doesNotMatch(cell(name) ?? '', /^[=+\-@\t\r]/, name);
    assert.equal(cell('tags'), `'=HYPERLINK("https://evil.example","x");b`);
    assert.equal(cell('reason'), `'@SUM(A1)`);
    // A JSON cell starts with `{`; the names and values inside it are kept exactly.
    assert.deepEqual(JSON.parse(cell('fields') ?? ''), { '@name': '+1', price: '-2' });
    assert.equal(cell('charged'), '1');
  });

  it('quotes commas, quotes and line breaks so that a CSV reader gets the values back', async () => {
    const text = await exported([
      { ...base, detail: 'line one\nline "two", end', tags: ['a,b'] },
      { ...base, index: 1, url: 'https://a.example/p/2?q=a,b', balanceAfter: 0 },
    ]);
    const rows = parse<Record<string, string>>(text, { columns: true });
    assert.equal(rows.length, 2);
    assert.equal(rows[0]?.detail, 'line one\nline "two", end');
    assert.equal(rows[0]?.tags, 'a,b');
    assert.equal(rows[1]?.url, 'https://a.example/p/2?q=a,b');
    assert.equal(rows[1]?.balanceAfter, '0');
    assert.equal(rows[1]?.reason, '');
  });
});

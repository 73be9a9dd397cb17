import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  InputError,
  formatOfPath,
  parseInput,
  splitCsvLine,
  type ParseInputOptions,
} from '../../src/client/input.js';

async function collect(chunks: Array<string | Uint8Array>, options?: ParseInputOptions) {
  const out = [];
  async function* source() {
    for (const c of chunks) yield await Promise.resolve(c);
  }
  for await (const item of parseInput(source(), options)) out.push(item);
  return out;
}

describe('batch input files', () => {
  it('reads one URL per line, skipping blanks and # comments, across chunk boundaries and CRLF', async () => {
    const items = await collect([
      '# products\r\nhttps://a.example/1\r\n\r\n  https://a.',
      'example/2  \n#x\nhttp://b.example/',
    ]);
    assert.deepEqual(items, [
      { url: 'https://a.example/1' },
      { url: 'https://a.example/2' },
      { url: 'http://b.example/' },
    ]);
  });

  it('rejects the whole input at the first bad line, naming it', async () => {
    await assert.rejects(collect(['https://a.example/\n\nftp://nope\nnot a url\n']), (err: InputError) => {
      assert.ok(err instanceof InputError);
      assert.equal(err.line, 3);
      assert.match(err.message, /^line 3: "ftp:\/\/nope" is not a valid http\(s\) URL/);
      return true;
    });
  });

  it('skips invalid lines with skipInvalid and reports each one', async () => {
    const skipped: number[] = [];
    const items = await collect(['https://a.example/\nbad\nhttps://b.example/\nworse\n'], {
      skipInvalid: true,
      onSkip: (err) => skipped.push(err.line),
    });
    assert.deepEqual(
      items.map((i) => i.url),
      ['https://a.example/', 'https://b.example/'],
    );
    assert.deepEqual(skipped, [2, 4]);
  });

  it('names the line holding bytes that are not UTF-8, and drops a BOM', async () => {
    const bad = Buffer.concat([
      Buffer.from('\uFEFFhttps://a.example/\nhttps://b.example/'),
      Buffer.from([0xff, 0xfe]),
      Buffer.from('\n'),
    ]);
    await assert.rejects(collect([bad]), /line 2: is not valid UTF-8/);
    assert.deepEqual(await collect([Buffer.from('\uFEFFhttps://a.example/\n')]), [
      { url: 'https://a.example/' },
    ]);
  });

  it('reads CSV with a url column anywhere and tags separated by ; or |', async () => {
    const items = await collect(
      [
        'name,URL,tags\n"Shop, A",https://a.example/,x;y\nB,https://b.example/,\nC,"https://c.example/?q=""1""",z|w\n',
      ],
      { format: 'csv' },
    );
    assert.deepEqual(items, [
      { url: 'https://a.example/', tags: ['x', 'y'] },
      { url: 'https://b.example/' },
      { url: 'https://c.example/?q="1"', tags: ['z', 'w'] },
    ]);
    await assert.rejects(
      collect(['link\nhttps://a.example/\n'], { format: 'csv' }),
      /line 1: the CSV header "link" has no "url" column/,
    );
    assert.deepEqual(splitCsvLine('a,"b,c",,"d""e"'), ['a', 'b,c', '', 'd"e']);
  });

  it('reads JSONL objects with url and tags, naming bad lines', async () => {
    const opts = { format: 'jsonl' as const };
    assert.deepEqual(
      await collect(['{"url":"https://a.example/","tags":["t"]}\n\n{"url":"https://b.example/"}\n'], opts),
      [{ url: 'https://a.example/', tags: ['t'] }, { url: 'https://b.example/' }],
    );
    await assert.rejects(
      collect(['{"url":"https://a.example/"}\n{"href":"x"}\n'], opts),
      /line 2: has no "url" string field/,
    );
    await assert.rejects(collect(['{nope\n'], opts), /line 1: is not JSON/);
  });

  it('streams: the first item arrives before the source has ended', async () => {
    let produced = 0;
    async function* endless() {
      for (;;) {
        produced += 1;
        yield await Promise.resolve(`https://a.example/${produced}\n`);
      }
    }
    const iterator = parseInput(endless())[Symbol.asyncIterator]();
    const first = await iterator.next();
    assert.deepEqual(first.value, { url: 'https://a.example/1' });
    assert.ok(produced < 5, `read ${produced} chunks for one item`);
    await iterator.return?.();
  });

  it('rejects a line longer than 64 KiB without buffering the whole input', async () => {
    await assert.rejects(collect(['https://a.example/\n', 'x'.repeat(70_000)]), /line 2: is longer than/);
  });

  it('picks the format from the extension', () => {
    assert.equal(formatOfPath('a.CSV'), 'csv');
    assert.equal(formatOfPath('a.ndjson'), 'jsonl');
    assert.equal(formatOfPath('a.jsonl'), 'jsonl');
    assert.equal(formatOfPath('urls.txt'), 'text');
  });
});

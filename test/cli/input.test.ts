import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_LINE_BYTES, parseInput, type ParseInputOptions } from '../../src/client/input.js';
import { formatOfPath } from '../../src/client/input-format.js';
import { InputError } from '../../src/errors.js';

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
  });

  it('reads CSV quoted fields that span lines, and names the line where a bad record starts', async () => {
    const csv = [
      'name,url,tags\n',
      '"Shop\nA, the first",https://a.example/,x\n',
      'B,https://b.example/,"y;\nz"\n',
      'C,not-a-url,\n',
    ];
    await assert.rejects(collect(csv, { format: 'csv' }), (err: InputError) => {
      assert.ok(err instanceof InputError);
      assert.equal(err.line, 6);
      assert.match(err.message, /^line 6: "not-a-url" is not a valid http\(s\) URL/);
      return true;
    });
    const skipped: string[] = [];
    const items = await collect(csv, {
      format: 'csv',
      skipInvalid: true,
      onSkip: (e) => skipped.push(e.message),
    });
    assert.deepEqual(items, [
      { url: 'https://a.example/', tags: ['x'] },
      { url: 'https://b.example/', tags: ['y', 'z'] },
    ]);
    assert.equal(skipped.length, 1);
    assert.match(skipped[0] ?? '', /^line 6: /);
    // A quote never closed rejects the file, naming the line it opens on, with or without skipInvalid.
    for (const skipInvalid of [false, true])
      await assert.rejects(
        collect(['url\nhttps://a.example/\n"https://b.example/\nhttps://c.example/\n'], {
          format: 'csv',
          skipInvalid,
        }),
        /^InputError: line 3: has a quoted field that is never closed/,
      );
  });

  it('streams CSV: the first item arrives before the source has ended', async () => {
    let produced = 0;
    async function* endless() {
      yield await Promise.resolve('id,URL\n');
      for (;;) {
        produced += 1;
        yield await Promise.resolve(`${produced},"https://a.example/${produced}"\n`);
      }
    }
    const iterator = parseInput(endless(), { format: 'csv' })[Symbol.asyncIterator]();
    assert.deepEqual((await iterator.next()).value, { url: 'https://a.example/1' });
    assert.deepEqual((await iterator.next()).value, { url: 'https://a.example/2' });
    assert.ok(produced < 10_000, `read ${produced} lines for two items`);
    await iterator.return?.();
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

  it('reads per-URL browser steps from JSONL, validated and defaulted like batch steps', async () => {
    const opts = { format: 'jsonl' as const };
    const steps = [
      { action: 'click', selector: '#cookie-accept' },
      { action: 'waitFor', selector: '#items' },
      { action: 'extract', fields: { total: '#items@data-total' } },
    ];
    const items = await collect(
      [
        '{"url":"https://a.example/p/1"}\n',
        `${JSON.stringify({ url: 'https://a.example/interactive', tags: ['i'], steps })}\n`,
        '{"url":"https://a.example/p/2","steps":null}\n',
      ],
      opts,
    );
    assert.deepEqual(items, [
      { url: 'https://a.example/p/1' },
      {
        url: 'https://a.example/interactive',
        tags: ['i'],
        steps: [
          { action: 'click', selector: '#cookie-accept' },
          { action: 'waitFor', selector: '#items', state: 'visible' },
          { action: 'extract', fields: { total: '#items@data-total' }, all: false },
        ],
      },
      { url: 'https://a.example/p/2' },
    ]);
  });

  it('names the line and the step field of bad per-URL steps; text and CSV carry none', async () => {
    const opts = { format: 'jsonl' as const };
    const bad = (steps: unknown) =>
      collect(
        ['{"url":"https://a.example/1"}\n\n', `${JSON.stringify({ url: 'https://a.example/2', steps })}\n`],
        opts,
      );
    await assert.rejects(bad([{ action: 'wait', ms: 10 }, { action: 'click' }]), (err: InputError) => {
      assert.ok(err instanceof InputError);
      assert.equal(err.line, 3);
      assert.equal(err.message, 'line 3: steps[1].selector: is required');
      return true;
    });
    await assert.rejects(
      bad([{ action: 'hover', selector: 'a' }]),
      /^InputError: line 3: steps\[0\]\.action: /,
    );
    await assert.rejects(bad([]), /line 3: steps: needs at least one step/);
    await assert.rejects(bad('click #x'), /line 3: steps: /);
    // --skip-invalid skips such a line like any other bad line.
    const skipped: number[] = [];
    const kept = await collect(
      ['{"url":"https://a.example/1","steps":[{"action":"wait"}]}\n{"url":"https://a.example/2"}\n'],
      { ...opts, skipInvalid: true, onSkip: (err) => skipped.push(err.line) },
    );
    assert.deepEqual(kept, [{ url: 'https://a.example/2' }]);
    assert.deepEqual(skipped, [1]);
    // A CSV "steps" column is not read: CSV (like text) has no per-URL steps.
    assert.deepEqual(
      await collect(['url,steps\nhttps://a.example/,"[{""action"":""wait"",""ms"":1}]"\n'], {
        format: 'csv',
      }),
      [{ url: 'https://a.example/' }],
    );
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

  it('skipInvalid also skips lines that are not UTF-8 or are over-long, reading on at the next line', async () => {
    // The over-long line arrives in 1 KiB chunks (about 1 MiB in all), its newline in the same chunk as
    // the next line's start.
    const long = Array.from({ length: 1024 }, () => 'x'.repeat(1024));
    const chunks = [
      'https://a.example/1\n',
      Buffer.concat([Buffer.from('https://a.example/'), Buffer.from([0xc3, 0x28]), Buffer.from('\n')]),
      'https://a.example/3\n',
      ...long,
      '\nhttps://a.',
      'example/5\nnot a url\nhttps://a.example/7',
    ];
    const skipped: string[] = [];
    const items = await collect(chunks, { skipInvalid: true, onSkip: (err) => skipped.push(err.message) });
    assert.deepEqual(
      items.map((i) => i.url),
      ['https://a.example/1', 'https://a.example/3', 'https://a.example/5', 'https://a.example/7'],
    );
    assert.deepEqual(
      skipped.map((m) => m.replace(/: .*/, '')),
      ['line 2', 'line 4', 'line 6'],
    );
    assert.match(skipped[0] ?? '', /not valid UTF-8/);
    assert.equal(skipped[1], `line 4: is longer than ${MAX_LINE_BYTES} bytes (one URL per line?)`);
    // Without the flag, each still rejects the input naming its line.
    await assert.rejects(collect(chunks), /^InputError: line 2: is not valid UTF-8/);
    await assert.rejects(collect([chunks[0]!, chunks[2]!, ...long]), /^InputError: line 3: is longer than/);
  });

  it('skipInvalid in CSV: an unreadable line is reported in order, and so is a record spanning it', async () => {
    const bad = Buffer.from([0xff]);
    const chunks = [
      'url,tags\n',
      'https://a.example/1,"t\n',
      bad,
      '\nu"\n',
      bad,
      '\nhttps://a.example/6,v\n',
      'nope,w\n',
      'https://a.example/8,x\n',
    ];
    const skipped: string[] = [];
    const items = await collect(chunks, {
      format: 'csv',
      skipInvalid: true,
      onSkip: (err) => skipped.push(err.message),
    });
    assert.deepEqual(items, [
      { url: 'https://a.example/6', tags: ['v'] },
      { url: 'https://a.example/8', tags: ['x'] },
    ]);
    assert.deepEqual(
      skipped.map((m) => m.replace(/(: [^ ]+ [^ ]+ [^ ]+).*/, '$1')),
      ['line 3: is not valid', 'line 2: the CSV record', 'line 5: is not valid', 'line 7: "nope" is not'],
    );
    assert.match(skipped[1] ?? '', /the CSV record on lines 2-4 includes line 3, which could not be read/);
    await assert.rejects(collect(chunks, { format: 'csv' }), /^InputError: line 3: is not valid UTF-8/);
  });

  it('picks the format from the extension', () => {
    assert.equal(formatOfPath('a.CSV'), 'csv');
    assert.equal(formatOfPath('a.ndjson'), 'jsonl');
    assert.equal(formatOfPath('a.jsonl'), 'jsonl');
    assert.equal(formatOfPath('urls.txt'), 'text');
  });
});

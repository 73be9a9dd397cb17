/**
 * The ResultStore contract, run against every implementation (`runStoreContract('FsStore', ...)`).
 * `open` must return a fresh, empty store each call; the suite closes what it opens, the caller removes
 * the backing directory or schema afterwards.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseBatchOptions } from '../../src/batch/options.js';
import type { Step } from '../../src/batch/steps.js';
import {
  InputExistsError,
  type ResultRecord,
  type ResultStore,
  type TerminalStatus,
  type UrlItem,
} from '../../src/store/types.js';

export type OpenStore = () => Promise<ResultStore>;

export const record = (
  batchId: string,
  index: number,
  status: TerminalStatus,
  extra: Partial<ResultRecord> = {},
): ResultRecord => ({
  batchId,
  index,
  url: `http://x/${index}`,
  status,
  charged: 1,
  attempts: 1,
  finishedAt: new Date(0).toISOString(),
  ...extra,
});

export async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

async function* generate(count: number, item: (i: number) => Omit<UrlItem, 'index'>) {
  for (let i = 0; i < count; i += 1) yield await Promise.resolve(item(i));
}

/** NUL characters and lone surrogates may be stored as U+FFFD; everything else must round-trip. */
const looseText = (s: string | undefined) =>
  s?.replace(/\0|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
/** The same for a JSON value: JSON.stringify writes exactly those characters as `\u` escapes. */
const looseJson = (value: unknown): unknown =>
  JSON.parse(JSON.stringify(value).replace(/\\u(?:0000|d[89a-f][0-9a-f]{2})/g, '\uFFFD'));

const UNSAFE_IDS = ['../etc', '', 'a/b', '.hidden', 'x'.repeat(129), 'a b'];

export function runStoreContract(name: string, open: OpenStore): void {
  describe(`${name}: ResultStore contract`, () => {
    const opened: ResultStore[] = [];
    const fresh = async () => {
      const store = await open();
      opened.push(store);
      return store;
    };
    let store: ResultStore;
    before(async () => {
      store = await fresh();
    });
    after(() => Promise.all(opened.map((s) => s.close())));

    it('pages through a stored input by index range, across page boundaries', async () => {
      const tagged = (i: number) => (i % 7 === 0 ? { tags: ['t', `n${i}`] } : {});
      const count = await store.putInput(
        'in-1',
        generate(2500, (i) => ({ url: `http://x/${i}`, ...tagged(i) })),
      );
      assert.equal(count, 2500);
      assert.equal(await store.inputCount('in-1'), 2500);
      const page = await store.readInput('in-1', 990, 20);
      assert.deepEqual(
        page.map((p) => p.index),
        Array.from({ length: 20 }, (_, i) => 990 + i),
      );
      assert.deepEqual(page[0], { index: 990, url: 'http://x/990' });
      assert.deepEqual(page[4], { index: 994, url: 'http://x/994', tags: ['t', 'n994'] });
      const wide = await store.readInput('in-1', 999, 1002);
      assert.equal(wide.length, 1002);
      assert.equal(wide.at(-1)?.url, 'http://x/2000');
      assert.equal((await store.readInput('in-1', 2490, 100)).length, 10);
      assert.deepEqual(await store.readInput('in-1', 2500, 10), []);
      assert.deepEqual(await store.readInput('in-1', 0, 0), []);
      assert.equal(await store.inputCount('in-none'), undefined);
      assert.deepEqual(await store.readInput('in-none', 0, 10), []);
    });

    it('refuses input under an id that has input, and keeps the input it has', async () => {
      await store.putInput(
        'in-2',
        Array.from({ length: 1500 }, (_, i) => ({ url: `http://old/${i}` })),
      );
      let read = 0;
      async function* counted() {
        for (const url of ['http://new/0', 'http://new/1']) {
          read += 1;
          yield await Promise.resolve({ url });
        }
      }
      await assert.rejects(store.putInput('in-2', counted()), (err: unknown) => {
        assert.ok(err instanceof InputExistsError);
        assert.equal(err.code, 'input_exists');
        assert.equal(err.batchId, 'in-2');
        return true;
      });
      assert.equal(read, 0, 'refused before the stream is read');
      await assert.rejects(store.putInput('in-2', []), InputExistsError);
      assert.equal(await store.inputCount('in-2'), 1500);
      assert.deepEqual(
        (await store.readInput('in-2', 1499, 10)).map((item) => item.url),
        ['http://old/1499'],
      );
      const lineage = { batchId: 'old', index: 7 };
      await store.putInput('in-3', [{ url: 'http://again/7', redrivenFrom: lineage }]);
      assert.deepEqual(await store.readInput('in-3', 0, 1), [
        { index: 0, url: 'http://again/7', redrivenFrom: lineage },
      ]);
    });

    it('stores nothing for a stream that fails, nor for an empty one: the id stays free', async () => {
      async function* failing(good: number) {
        for (let i = 0; i < good; i += 1) yield await Promise.resolve({ url: `http://bad/${i}` });
        throw new Error('line 1002: not a URL');
      }
      await assert.rejects(store.putInput('in-4', failing(1001)), /line 1002/);
      assert.equal(await store.inputCount('in-4'), undefined);
      assert.deepEqual(await store.readInput('in-4', 0, 10), []);
      assert.equal(await store.putInput('in-5', []), 0);
      assert.equal(await store.inputCount('in-5'), undefined);
      // Both ids are still free.
      assert.equal(await store.putInput('in-4', [{ url: 'http://good/0' }]), 1);
      assert.equal(await store.putInput('in-5', [{ url: 'http://good/0' }]), 1);
      assert.deepEqual(await store.readInput('in-4', 0, 10), [{ index: 0, url: 'http://good/0' }]);
      // Under an id that has input, a failing stream changes nothing either.
      await assert.rejects(store.putInput('in-4', failing(1001)), InputExistsError);
      assert.equal(await store.inputCount('in-4'), 1);
      assert.deepEqual(await store.readInput('in-4', 0, 10), [{ index: 0, url: 'http://good/0' }]);
    });

    it('of two writers racing for one id, exactly one stores its input, whole', async () => {
      const own = await fresh();
      // Each stream yields to the event loop between items, so both writers are mid-stream together.
      async function* slow(tag: string) {
        for (let i = 0; i < 1200; i += 1) {
          await new Promise((resolve) => setImmediate(resolve));
          yield { url: `http://${tag}/${i}` };
        }
      }
      for (const round of [1, 2, 3]) {
        const id = `race-in-${round}`;
        const outcomes = await Promise.allSettled([own.putInput(id, slow('a')), own.putInput(id, slow('b'))]);
        const won = outcomes.filter((o) => o.status === 'fulfilled');
        const lost = outcomes.filter((o) => o.status === 'rejected');
        assert.equal(won.length, 1, `round ${round}: one winner`);
        assert.ok(lost[0]?.reason instanceof InputExistsError, `round ${round}: ${String(lost[0]?.reason)}`);
        assert.equal(await own.inputCount(id), 1200);
        const items = await own.readInput(id, 0, 1200);
        const tag = new URL(items[0]?.url ?? 'http://none/').host;
        assert.ok(
          items.every((item, i) => item.url === `http://${tag}/${i}`),
          "one writer's input only",
        );
      }
    });

    it('deletes an input, which frees its id; deleting none is a no-op', async () => {
      await store.putInput('in-6', [{ url: 'http://first/0' }, { url: 'http://first/1' }]);
      await store.putResult(record('in-6', 0, 'succeeded'));
      await store.deleteInput('in-6');
      assert.equal(await store.inputCount('in-6'), undefined);
      assert.deepEqual(await store.readInput('in-6', 0, 10), []);
      assert.equal((await store.getResult('in-6', 0))?.status, 'succeeded', 'results stay');
      await store.deleteInput('in-6');
      await store.deleteInput('in-none');
      assert.equal(await store.putInput('in-6', [{ url: 'http://second/0' }]), 1);
      assert.deepEqual(await store.readInput('in-6', 0, 10), [{ index: 0, url: 'http://second/0' }]);
    });

    it("keeps a duplicate line's duplicateOf (0 included), on inputs and records", async () => {
      const count = await store.putInput(
        'in-dups',
        generate(1203, (i) => ({
          url: `http://x/${i % 600}`,
          ...(i >= 600 ? { duplicateOf: i % 600 } : {}),
          ...(i === 1200 ? { tags: ['t'] } : {}),
        })),
      );
      assert.equal(count, 1203);
      const items = await store.readInput('in-dups', 0, 1203);
      assert.deepEqual(
        items.map((item) => item.duplicateOf),
        Array.from({ length: 1203 }, (_, i) => (i >= 600 ? i % 600 : undefined)),
      );
      assert.deepEqual(items[0], { index: 0, url: 'http://x/0' });
      assert.deepEqual(await store.readInput('in-dups', 1200, 1), [
        { index: 1200, url: 'http://x/0', tags: ['t'], duplicateOf: 0 },
      ]);
      const dup = record('in-dups', 1200, 'succeeded', { duplicateOf: 0, charged: 0, attempts: 0 });
      await store.putResult(dup);
      assert.deepEqual(await store.getResult('in-dups', 1200), dup);
    });

    it("keeps an input item's own browser steps, and items without steps have none", async () => {
      const steps: Step[] = [
        { action: 'click', selector: '#cookie-accept' },
        { action: 'select', selector: 'select#category', value: 'books \u{1F4DA}' },
        { action: 'scroll', until: { selector: '#end:not([hidden])' }, maxScrolls: 20, settleMs: 2000 },
        { action: 'extract', fields: { total: '#items@data-total', first: '.item .item-name' }, all: false },
      ];
      const lineage = { batchId: 'old', index: 3 };
      const count = await store.putInput(
        'in-steps',
        generate(1203, (i) =>
          i % 400 === 1
            ? { url: `http://x/${i}/interactive`, steps, ...(i === 801 ? { redrivenFrom: lineage } : {}) }
            : { url: `http://x/${i}` },
        ),
      );
      assert.equal(count, 1203);
      const items = await store.readInput('in-steps', 0, 1203);
      assert.deepEqual(
        items.filter((item) => item.steps).map((item) => item.index),
        [1, 401, 801, 1201],
      );
      assert.deepEqual(items[1], { index: 1, url: 'http://x/1/interactive', steps });
      assert.deepEqual(items[801], {
        index: 801,
        url: 'http://x/801/interactive',
        steps,
        redrivenFrom: lineage,
      });
      assert.deepEqual(items[2], { index: 2, url: 'http://x/2' });
      assert.deepEqual(await store.readInput('in-steps', 1201, 1), [
        { index: 1201, url: 'http://x/1201/interactive', steps },
      ]);
    });

    it('keeps exactly one record per (batch, index): the last write wins, whole', async () => {
      const first = record('res-1', 2, 'failed', { reason: 'rate_limited', attempts: 5, tags: ['a'] });
      const last = record('res-1', 2, 'succeeded', {
        charged: 2.5,
        balanceAfter: 997.5,
        methodUsed: 'http',
        fields: { title: 'T', price: null },
        contentRef: 'ref',
        redrivenFrom: { batchId: 'res-0', index: 9 },
        response: { nested: [1, 'two', { three: true }] },
        finishedAt: '2024-05-06T07:08:09.123Z',
      });
      await store.putResult(first);
      await store.putResult(last);
      await store.putResult(record('res-1', 3, 'dead_lettered'));
      assert.deepEqual(await store.getResult('res-1', 2), last);
      assert.equal((await collect(store.listResults('res-1'))).length, 2);
      assert.equal(await store.getResult('res-1', 4), undefined);
      assert.equal(await store.getResult('res-none', 0), undefined);
    });

    it('streams records in index order and filters by status and tag', async () => {
      const order = [10, 2, 1001, 0, 999, 100, 3, 1000, 11, 1];
      const statuses: TerminalStatus[] = ['succeeded', 'failed', 'dead_lettered'];
      for (const [n, index] of order.entries()) {
        const tags = index % 2 === 0 ? ['even', 'shop'] : ['odd'];
        await store.putResult(record('res-2', index, statuses[n % 3] ?? 'succeeded', { tags }));
      }
      const all = await collect(store.listResults('res-2'));
      assert.deepEqual(
        all.map((r) => r.index),
        [...order].sort((a, b) => a - b),
      );
      const indexes = async (filter: Parameters<ResultStore['listResults']>[1]) =>
        (await collect(store.listResults('res-2', filter))).map((r) => r.index);
      const expect = (keep: (r: ResultRecord) => boolean) => all.filter(keep).map((r) => r.index);
      assert.deepEqual(
        await indexes({ status: 'failed' }),
        expect((r) => r.status === 'failed'),
      );
      assert.deepEqual(
        await indexes({ status: ['failed', 'dead_lettered'] }),
        expect((r) => r.status !== 'succeeded'),
      );
      assert.deepEqual(await indexes({ tag: 'shop' }), [0, 2, 10, 100, 1000]);
      assert.deepEqual(
        await indexes({ tag: 'odd', status: 'succeeded' }),
        expect((r) => r.index % 2 === 1 && r.status === 'succeeded'),
      );
      assert.deepEqual(await indexes({ tag: 'nope' }), []);
      assert.deepEqual(await indexes({ status: [] }), []);
      assert.deepEqual(await collect(store.listResults('res-none')), []);
    });

    it('stores page bodies behind references, idempotent per (batch, index)', async () => {
      const body = '<html>héllo 🌍 \u4e2d\u6587 \0 nul</html>';
      const ref = await store.putContent('con-1', 3, 'first');
      assert.equal(await store.putContent('con-1', 3, body), ref);
      assert.equal(await store.getContent(ref), body);
      const other = await store.putContent('con-1', 4, 'x'.repeat(300_000));
      assert.notEqual(other, ref);
      assert.equal((await store.getContent(other))?.length, 300_000);
      assert.equal(await store.getContent(ref.replace('con-1', 'con-none')), undefined);
      assert.equal(await store.getContent(ref.replace(/3$/, '5')), undefined);
      await assert.rejects(store.getContent('nope:con-1/3'));
    });

    it('stores records whose text holds NUL characters and cut surrogate pairs', async () => {
      const awkward = record('res-3', 0, 'dead_lettered', {
        detail: 'cut emoji \uD83C| nul \0 | whole 🌍 | slash \\u0000',
        response: { body: 'a\0b', '\\': 'key', list: ['\uDC00'] },
        fields: { 'k\0': 'v' },
      });
      await store.putResult(awkward);
      const got = await store.getResult('res-3', 0);
      assert.ok(got);
      assert.equal(looseText(got.detail), looseText(awkward.detail));
      assert.deepEqual(looseJson(got.response), looseJson(awkward.response));
      assert.deepEqual(looseJson(got.fields), looseJson(awkward.fields));
    });

    it('prunes page bodies stored before a time and keeps the result records', async () => {
      const own = await fresh();
      const oldRef = await own.putContent('pr-1', 0, 'old body');
      const oldRef2 = await own.putContent('pr-2', 7, 'old body 2');
      await own.putResult(record('pr-1', 0, 'succeeded', { contentRef: oldRef }));
      await sleep(25);
      const mark = new Date();
      await sleep(25);
      const newRef = await own.putContent('pr-1', 1, 'new body');
      assert.equal(await own.pruneContent(new Date(Date.now() - 3_600_000)), 0);
      assert.equal(await own.getContent(oldRef), 'old body');
      assert.equal(await own.pruneContent(mark), 2);
      assert.equal(await own.getContent(oldRef), undefined);
      assert.equal(await own.getContent(oldRef2), undefined);
      assert.equal(await own.getContent(newRef), 'new body');
      assert.equal((await own.getResult('pr-1', 0))?.contentRef, oldRef);
      assert.equal((await collect(own.listResults('pr-1'))).length, 1);
      assert.equal(await own.pruneContent(mark), 0);
      // A body written again after pruning is stored afresh.
      assert.equal(await own.putContent('pr-1', 0, 'again'), oldRef);
      assert.equal(await own.getContent(oldRef), 'again');
    });

    it('sums the charges noted per URL, once per try id', async () => {
      assert.equal(await store.notedCharges('ch-1', 3), 0, 'nothing noted yet');
      await store.noteCharge('ch-1', 3, 'run-a.1.1', 10);
      await store.noteCharge('ch-1', 3, 'run-a.1.1', 10); // the same try noting again
      await store.noteCharge('ch-1', 3, 'run-a.1.2', 10);
      await store.noteCharge('ch-1', 4, 'run-b.1.1', 2.5);
      await store.noteCharge('ch-2', 3, 'run-c.1.1', 7);
      assert.equal(await store.notedCharges('ch-1', 3), 20);
      assert.equal(await store.notedCharges('ch-1', 4), 2.5);
      assert.equal(await store.notedCharges('ch-2', 3), 7);
      await assert.rejects(store.noteCharge('../x', 0, 't', 1), /batch id/);
    });

    it("keeps each version of a batch's options apart; a repeated write keeps the first", async () => {
      const options = parseBatchOptions({ mode: 'fast', cssSelectors: { title: 'h1', link: 'a@href' } });
      const raised = { ...options, maxCredits: 50 };
      assert.equal(await store.getOptions('op-1', 'aaaa0000aaaa0000'), undefined, 'none stored yet');
      await store.putOptions('op-1', 'aaaa0000aaaa0000', options);
      await store.putOptions('op-1', 'bbbb0000bbbb0000', raised);
      await store.putOptions('op-1', 'aaaa0000aaaa0000', options); // a page of the batch storing again
      assert.deepEqual(await store.getOptions('op-1', 'aaaa0000aaaa0000'), options);
      assert.deepEqual(await store.getOptions('op-1', 'bbbb0000bbbb0000'), raised);
      assert.equal(await store.getOptions('op-2', 'aaaa0000aaaa0000'), undefined, 'another batch has none');
      await assert.rejects(store.putOptions('op-1', '../x', options), /invalid options version/);
      await assert.rejects(store.getOptions('../x', 'aaaa0000aaaa0000'), /invalid batch id/);
    });

    it('refuses unsafe batch ids everywhere', async () => {
      const ref = await store.putContent('safe', 1, 'x');
      for (const id of UNSAFE_IDS) {
        const invalid = /invalid batch id/;
        await assert.rejects(store.putInput(id, [{ url: 'http://x/' }]), invalid, id);
        await assert.rejects(store.readInput(id, 0, 1), invalid, id);
        await assert.rejects(store.inputCount(id), invalid, id);
        await assert.rejects(store.deleteInput(id), invalid, id);
        await assert.rejects(store.putContent(id, 1, 'x'), invalid, id);
        await assert.rejects(store.getContent(ref.replace('safe', id)), Error, id);
        await assert.rejects(store.putResult(record(id, 0, 'succeeded')), invalid, id);
        await assert.rejects(store.getResult(id, 0), invalid, id);
        await assert.rejects(collect(store.listResults(id)), invalid, id);
      }
    });
  });
}

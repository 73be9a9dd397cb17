/**
 * Duplicate URLs in one input: the first line of a URL is scraped, every later line of it is marked
 * `duplicateOf: <first index>` as the input streams into the store, and gets its record from the first's
 * once that has ended (the batch workflow's `recordDuplicates`), charged 0.
 *
 * Two lines are the same work when their WHATWG-normalised hrefs are equal (scheme and host lower-cased,
 * default port dropped, dot segments resolved, percent-encoding normalised: `HTTPS://Example.com:443/a`
 * is `https://example.com/a`) and their own `steps` are equal. The fragment stays in the key: OmniScrape
 * never sends it to the site, but a rendered page (js_rendering, browser steps) can route on it
 * (`#/cart`), and merging two lines that might give different answers would record a wrong result,
 * while keeping two that give the same one only costs a scrape. Tags are not part of the key: a
 * duplicate's record keeps its own tags.
 *
 * Memory: a million distinct URLs must fit beside a 96 MiB V8 heap, so keys are not kept as strings but
 * as 128-bit digests (SHA-256, truncated) in an open-addressing table of typed arrays (20 bytes a slot,
 * outside the V8 heap). Two different keys share a digest with probability about n²/2¹²⁹: for a
 * billion lines, below 10⁻²⁰, far under the odds of a hardware fault.
 */
import { createHash } from 'node:crypto';
import type { UrlItem } from '../store/types.js';

/** The key two lines must share to be one scrape: normalised href, and the line's own steps. */
export function dedupeKey(item: Pick<UrlItem, 'url' | 'steps'>): string {
  let href: string;
  try {
    href = new URL(item.url).href;
  } catch {
    href = item.url;
  }
  return item.steps === undefined ? href : `${href}\n${JSON.stringify(item.steps)}`;
}

/** 32-bit words per digest (128 bits). */
const WORDS = 4;
/** Grow when more than this share of slots is taken (linear probing stays short below it). */
const MAX_LOAD = 0.5;

/**
 * A set of 128-bit digests, each mapped to the index of the line that brought it first. Open
 * addressing with linear probing in typed arrays; doubles when half full.
 */
export class FirstIndexTable {
  #digests: Uint32Array;
  /** Line index + 1 per slot; 0 marks an empty slot. */
  #firsts: Uint32Array;
  #size = 0;

  constructor(initialCapacity = 1024) {
    const capacity = 2 ** Math.max(4, Math.ceil(Math.log2(initialCapacity)));
    this.#digests = new Uint32Array(capacity * WORDS);
    this.#firsts = new Uint32Array(capacity);
  }

  /** Distinct digests held. */
  get size(): number {
    return this.#size;
  }

  /** Slots allocated (a power of two). */
  get capacity(): number {
    return this.#firsts.length;
  }

  /**
   * The index remembered for `digest` (16 bytes or more; the first 16 count), or, when it is new,
   * remembers `index` for it and answers undefined.
   */
  firstOrAdd(digest: Uint8Array, index: number): number | undefined {
    if (!Number.isInteger(index) || index < 0 || index >= 0xffff_ffff)
      throw new RangeError(`index must be an integer from 0 to ${0xffff_ffff - 1}, got ${index}`);
    const view = new DataView(digest.buffer, digest.byteOffset, WORDS * 4);
    const a = view.getUint32(0);
    const b = view.getUint32(4);
    const c = view.getUint32(8);
    const d = view.getUint32(12);
    const mask = this.#firsts.length - 1;
    for (let slot = a & mask; ; slot = (slot + 1) & mask) {
      const first = this.#firsts[slot]!;
      if (first === 0) break;
      const at = slot * WORDS;
      const digests = this.#digests;
      if (digests[at] === a && digests[at + 1] === b && digests[at + 2] === c && digests[at + 3] === d)
        return first - 1;
    }
    if (this.#size + 1 > this.#firsts.length * MAX_LOAD) this.#grow();
    this.#insert(a, b, c, d, index + 1);
    this.#size += 1;
    return undefined;
  }

  #insert(a: number, b: number, c: number, d: number, firstPlusOne: number): void {
    const mask = this.#firsts.length - 1;
    let slot = a & mask;
    while (this.#firsts[slot] !== 0) slot = (slot + 1) & mask;
    const at = slot * WORDS;
    this.#digests[at] = a;
    this.#digests[at + 1] = b;
    this.#digests[at + 2] = c;
    this.#digests[at + 3] = d;
    this.#firsts[slot] = firstPlusOne;
  }

  #grow(): void {
    const digests = this.#digests;
    const firsts = this.#firsts;
    this.#digests = new Uint32Array(digests.length * 2);
    this.#firsts = new Uint32Array(firsts.length * 2);
    for (let slot = 0; slot < firsts.length; slot++) {
      const first = firsts[slot]!;
      if (first === 0) continue;
      const at = slot * WORDS;
      this.#insert(digests[at]!, digests[at + 1]!, digests[at + 2]!, digests[at + 3]!, first);
    }
  }
}

/** Marks the duplicate lines of one input as it streams (`mark`), counting them. */
export class Deduper {
  readonly #firsts = new FirstIndexTable();
  #position = 0;
  /** Lines marked as duplicates so far. */
  duplicates = 0;

  /**
   * Yields each item with `duplicateOf` set to the index of the first line of its key, or unset on a
   * first line (any `duplicateOf` the item came with is dropped). Positions count from 0, as the store
   * numbers the items it is given, so this must see exactly the items the store stores.
   */
  async *mark<T extends Omit<UrlItem, 'index'>>(
    items: AsyncIterable<T> | Iterable<T>,
  ): AsyncIterable<Omit<T, 'duplicateOf'> & { duplicateOf?: number }> {
    for await (const item of items) {
      const { duplicateOf: _given, ...rest } = item;
      const digest = createHash('sha256').update(dedupeKey(item)).digest();
      const first = this.#firsts.firstOrAdd(digest, this.#position);
      this.#position += 1;
      if (first === undefined) {
        yield rest;
      } else {
        this.duplicates += 1;
        yield { ...rest, duplicateOf: first };
      }
    }
  }
}

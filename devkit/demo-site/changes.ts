/**
 * The demo site's catalogue as it stands after changes: which products the sitemap lists, and what was
 * changed, added or removed since the last reset. Each product is still a pure function of its number
 * (./catalog.ts) until a change overrides some of its fields; the state lives in one server instance and
 * `reset()` returns it to that pure function, so tests and `scrapeflow demo` can show a monitor what
 * changed without fixtures.
 */
import { MAX_PRODUCT, product, productLastmod, type Product } from './catalog.js';

/** Products the sitemap lists without changes: 1..this. @default 20 */
export const DEFAULT_SITEMAP_PRODUCTS = 20;
/** Most products the sitemap may list from its range (the site has MAX_PRODUCT; a sitemap is built in memory). */
export const MAX_SITEMAP_PRODUCTS = 200_000;

/** The fields a change may set. */
export interface ProductPatch {
  /** The product's name (its `<h1>` and title). */
  title?: string;
  /** Two decimals, e.g. `19.99`. */
  price?: string;
  /** Units in stock. */
  stock?: number;
}

export interface ListedProduct {
  product: Product;
  /** W3C datetime: a date in 2025 before any change, the time of the last change after one. */
  lastmod: string;
}

export interface CatalogSnapshot {
  /** The sitemap lists products 1..sitemapProducts, less the removed ones, plus the added ones. */
  sitemapProducts: number;
  /** Changed or added products, by number, with the fields set and when. */
  changed: { id: number; patch: ProductPatch; lastmod: string }[];
  /** Products listed in addition to the range. */
  added: number[];
  /** Products that answer 404 and the sitemap leaves out. */
  removed: number[];
}

interface Change {
  patch: ProductPatch;
  lastmod: string;
}

export class CatalogState {
  #sitemapProducts: number;
  readonly #now: () => Date;
  #changes = new Map<number, Change>();
  #added = new Set<number>();
  #removed = new Set<number>();

  constructor(options: { sitemapProducts?: number; now?: () => Date } = {}) {
    this.#sitemapProducts = checkRange(options.sitemapProducts ?? DEFAULT_SITEMAP_PRODUCTS);
    this.#now = options.now ?? (() => new Date());
  }

  get sitemapProducts(): number {
    return this.#sitemapProducts;
  }

  /** Product `n` as it stands, or undefined once removed. */
  product(n: number): Product | undefined {
    if (this.#removed.has(n)) return undefined;
    const base = product(n);
    const patch = this.#changes.get(n)?.patch;
    if (patch === undefined) return base;
    return {
      ...base,
      ...(patch.title !== undefined ? { name: patch.title } : {}),
      ...(patch.price !== undefined ? { price: patch.price } : {}),
      ...(patch.stock !== undefined ? { stock: patch.stock } : {}),
    };
  }

  lastmod(n: number): string {
    return this.#changes.get(n)?.lastmod ?? productLastmod(n);
  }

  /** Sets fields of product `n` (merged with earlier changes); its lastmod becomes now. */
  change(n: number, patch: ProductPatch): Product {
    if (this.#removed.has(n)) throw new Error(`product ${n} was removed`);
    this.#set(n, patch);
    return this.product(n) as Product;
  }

  /** Lists product `n` in the sitemap (again, if it was removed), with optional fields; lastmod now. */
  add(n: number, patch: ProductPatch = {}): Product {
    this.#removed.delete(n);
    if (n > this.#sitemapProducts) this.#added.add(n);
    this.#set(n, patch);
    return this.product(n) as Product;
  }

  /** Product `n` answers 404 from now on and leaves the sitemap. False if it already had. */
  remove(n: number): boolean {
    if (this.#removed.has(n)) return false;
    this.#removed.add(n);
    this.#added.delete(n);
    this.#changes.delete(n);
    return true;
  }

  /** Back to the pure catalogue; `sitemapProducts` changes the listed range if given. */
  reset(sitemapProducts?: number): void {
    if (sitemapProducts !== undefined) this.#sitemapProducts = checkRange(sitemapProducts);
    this.#changes = new Map();
    this.#added = new Set();
    this.#removed = new Set();
  }

  /** The listed products in number order (the range less the removed ones, then the added ones). */
  *listed(): Generator<ListedProduct> {
    const extra = [...this.#added].filter((n) => n > this.#sitemapProducts).sort((a, b) => a - b);
    for (let n = 1; n <= this.#sitemapProducts; n++) {
      const p = this.product(n);
      if (p) yield { product: p, lastmod: this.lastmod(n) };
    }
    for (const n of extra) yield { product: this.product(n) as Product, lastmod: this.lastmod(n) };
  }

  snapshot(): CatalogSnapshot {
    return {
      sitemapProducts: this.#sitemapProducts,
      changed: [...this.#changes]
        .sort(([a], [b]) => a - b)
        .map(([id, c]) => ({ id, patch: { ...c.patch }, lastmod: c.lastmod })),
      added: [...this.#added].sort((a, b) => a - b),
      removed: [...this.#removed].sort((a, b) => a - b),
    };
  }

  #set(n: number, patch: ProductPatch): void {
    const before = this.#changes.get(n)?.patch ?? {};
    this.#changes.set(n, { patch: { ...before, ...patch }, lastmod: this.#now().toISOString() });
  }
}

function checkRange(n: number): number {
  if (!Number.isInteger(n) || n < 0 || n > Math.min(MAX_SITEMAP_PRODUCTS, MAX_PRODUCT)) {
    throw new RangeError(`sitemapProducts must be a whole number 0..${MAX_SITEMAP_PRODUCTS}`);
  }
  return n;
}

/**
 * The demo site's deterministic data: every product and interactive item is a pure function of its
 * number, so tests and benchmarks can predict any page without storing anything.
 */

/** Highest product number the site serves (SKUs are six digits). */
export const MAX_PRODUCT = 999_999;

export const CATEGORIES = ['electronics', 'books', 'garden', 'toys'] as const;
export type Category = (typeof CATEGORIES)[number];

export interface Product {
  id: number;
  name: string;
  /** Two decimals, e.g. `25.54`. */
  price: string;
  sku: string;
  category: Category;
  /** Units in stock; 0 is out of stock. */
  stock: number;
  description: string;
}

/** Parses a product number from a path segment: 1..MAX_PRODUCT, digits only; otherwise undefined. */
export function parseProductNumber(segment: string): number | undefined {
  if (!/^[1-9]\d{0,5}$/.test(segment)) return undefined;
  return Number(segment);
}

/** `(n * 37 % 9000) / 100 + 10`, with two decimals. */
export function productPrice(n: number): string {
  return (((n * 37) % 9000) / 100 + 10).toFixed(2);
}

/** `n * 7 % 50`: every seventh-ish product is out of stock. */
export function productStock(n: number): number {
  return (n * 7) % 50;
}

/** Midnight UTC of 2025-01-01 (ms); a product's lastmod before any change is this plus `n % 365` days. */
const LASTMOD_EPOCH_MS = Date.UTC(2025, 0, 1);

/** The product's lastmod before any change: a date (`YYYY-MM-DD`) in 2025, a pure function of `n`. */
export function productLastmod(n: number): string {
  return new Date(LASTMOD_EPOCH_MS + (n % 365) * 86_400_000).toISOString().slice(0, 10);
}

export function productSku(n: number): string {
  return `SKU-${String(n).padStart(6, '0')}`;
}

export function product(n: number): Product {
  const category = CATEGORIES[n % CATEGORIES.length] ?? 'electronics';
  return {
    id: n,
    name: `Product ${n}`,
    price: productPrice(n),
    sku: productSku(n),
    category,
    stock: productStock(n),
    description:
      `Product ${n} is a deterministic demo item in the ${category} category. ` +
      `Its price and SKU are derived from its number, so every fetch of this page returns the same ` +
      `content and tests can predict it without fixtures.`,
  };
}

/** Items of the interactive page, in list order. */
export const INTERACTIVE_TOTAL = 60;
/** Items per infinite-scroll batch. */
export const INTERACTIVE_BATCH = 12;

export interface InteractiveItem {
  id: number;
  name: string;
  price: string;
  category: Category;
}

export function interactiveItem(id: number): InteractiveItem {
  return {
    id,
    name: `Item ${id}`,
    price: (((id * 53) % 5000) / 100 + 5).toFixed(2),
    category: CATEGORIES[(id - 1) % CATEGORIES.length] ?? 'electronics',
  };
}

export interface InteractiveBatch {
  items: InteractiveItem[];
  /** 1-based batch number. */
  page: number;
  /** Items matching the filter, over all batches. */
  total: number;
  hasMore: boolean;
}

/** One batch of the interactive list, filtered by category ('' or undefined for all). */
export function interactiveBatch(category: Category | undefined, page: number): InteractiveBatch {
  const all: InteractiveItem[] = [];
  for (let id = 1; id <= INTERACTIVE_TOTAL; id++) {
    const item = interactiveItem(id);
    if (category === undefined || item.category === category) all.push(item);
  }
  const start = (page - 1) * INTERACTIVE_BATCH;
  const items = all.slice(start, start + INTERACTIVE_BATCH);
  return { items, page, total: all.length, hasMore: start + INTERACTIVE_BATCH < all.length };
}

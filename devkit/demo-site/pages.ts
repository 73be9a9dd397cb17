/**
 * HTML of the demo site's pages. Pure functions of their inputs; the markers tests and extractors rely
 * on are listed in each function's TSDoc.
 */
import { CATEGORIES, INTERACTIVE_TOTAL, type Product } from './catalog.js';
import { VERIFY_PATH } from './challenge.js';

export function escapeHtml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

function document(title: string, body: string, head = ''): string {
  return (
    `<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n` +
    `<title>${escapeHtml(title)}</title>\n${head}</head>\n<body>\n${body}\n</body>\n</html>\n`
  );
}

/**
 * A product page (`/p/<n>`, `/slow/<n>`, a passed `/challenge/<n>`). Markers: `<h1>Product n</h1>`,
 * `[data-price]` whose text is the price, `.product-sku` with `SKU-000042`, `[data-stock]` whose text is the
 * units in stock, `main.product[data-product-id]`.
 */
export function productPage(p: Product, kind: string): string {
  return document(
    `${p.name} · Demo shop`,
    `<main class="product" data-product-id="${p.id}" data-page-kind="${escapeHtml(kind)}">\n` +
      `<h1>${escapeHtml(p.name)}</h1>\n` +
      `<p class="price">Price: <span data-price="${escapeHtml(p.price)}">${escapeHtml(p.price)}</span> USD</p>\n` +
      `<p>SKU: <span class="product-sku">${p.sku}</span></p>\n` +
      `<p class="product-stock">In stock: <span data-stock="${p.stock}">${p.stock}</span></p>\n` +
      `<p class="product-category">Category: ${p.category}</p>\n` +
      `<p class="product-description">${escapeHtml(p.description)}</p>\n` +
      `</main>`,
  );
}

/**
 * A page whose product only JavaScript renders (`/js/<n>`): the served HTML has an empty
 * `<div id="app"></div>`; after `delayMs` its script fetches `/api/products/<n>`, fills in the product
 * markup of `productPage` and appends `<div class="product-loaded"></div>` last.
 */
export function jsPage(n: number, delayMs: number): string {
  const script = `(function () {
  var app = document.getElementById('app');
  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  setTimeout(function () {
    fetch('/api/products/${n}')
      .then(function (r) { return r.json(); })
      .then(function (p) {
        var main = el('main', { class: 'product', 'data-product-id': String(p.id), 'data-page-kind': 'js' });
        main.appendChild(el('h1', {}, p.name));
        var price = el('p', { class: 'price' }, 'Price: ');
        price.appendChild(el('span', { 'data-price': p.price }, p.price));
        price.appendChild(document.createTextNode(' USD'));
        main.appendChild(price);
        var sku = el('p', {}, 'SKU: ');
        sku.appendChild(el('span', { class: 'product-sku' }, p.sku));
        main.appendChild(sku);
        var stock = el('p', { class: 'product-stock' }, 'In stock: ');
        stock.appendChild(el('span', { 'data-stock': String(p.stock) }, String(p.stock)));
        main.appendChild(stock);
        main.appendChild(el('p', { class: 'product-category' }, 'Category: ' + p.category));
        main.appendChild(el('p', { class: 'product-description' }, p.description));
        app.appendChild(main);
        app.appendChild(el('div', { class: 'product-loaded' }));
        document.title = p.name + ' · Demo shop';
      });
  }, ${delayMs});
})();`;
  return document('Demo shop', `<div id="app"></div>\n<script>\n${script}\n</script>`);
}

/**
 * The challenge document (`/challenge/<n>` without clearance). Markers: title `Checking your browser…`,
 * `<div id="challenge" data-challenge-nonce="…">`, `form#challenge-form` posting to `/challenge/verify`.
 * Its script only updates the status text: it never solves the challenge.
 */
export function challengePage(nonce: string, returnPath: string, failed = false): string {
  const body =
    `<div id="challenge" data-challenge-nonce="${escapeHtml(nonce)}"${failed ? ' data-challenge-failed' : ''}>\n` +
    `<h1>Checking your browser before accessing the demo shop</h1>\n` +
    `<p class="challenge-status">${failed ? 'Verification failed. Try again.' : 'This takes a moment.'}</p>\n` +
    `<form id="challenge-form" method="post" action="${VERIFY_PATH}">\n` +
    `<input type="hidden" name="nonce" value="${escapeHtml(nonce)}">\n` +
    `<input type="hidden" name="proof" value="">\n` +
    `<input type="hidden" name="return" value="${escapeHtml(returnPath)}">\n` +
    `</form>\n</div>\n` +
    `<script>setTimeout(function () { var s = document.querySelector('.challenge-status'); ` +
    `if (s) s.textContent = 'Still checking your browser…'; }, 1000);</script>`;
  return document('Checking your browser…', body);
}

/**
 * The interactive catalogue (`/interactive`). Markers: `#cookie-banner` (a full-viewport overlay that
 * blocks clicks and scrolling) with `button#cookie-accept`; `select#category` (`''` = all); `#items`
 * holding `.item[data-id][data-category]` elements with `.item-name` and `.item-price[data-price]`;
 * `#items[data-loaded][data-total]`; `#end` shown once every matching item is loaded. Batches come from
 * `/interactive/items` when `#sentinel` (after the list) scrolls into view.
 */
export function interactivePage(): string {
  const options = ['<option value="">All categories</option>']
    .concat(CATEGORIES.map((c) => `<option value="${c}">${c[0]?.toUpperCase() ?? ''}${c.slice(1)}</option>`))
    .join('');
  const head =
    `<style>\n` +
    `body { margin: 0; font-family: sans-serif; }\n` +
    `body.consent-pending { overflow: hidden; }\n` +
    `#cookie-banner { position: fixed; inset: 0; z-index: 1000; background: rgba(0, 0, 0, 0.9); color: #fff;\n` +
    `  display: flex; flex-direction: column; align-items: center; justify-content: center; }\n` +
    `main { padding: 16px; }\n` +
    `.item { height: 80px; box-sizing: border-box; border-bottom: 1px solid #ddd; padding: 8px; }\n` +
    `#sentinel { height: 1px; }\n` +
    `</style>\n`;
  const script = `(function () {
  var list = document.getElementById('items');
  var select = document.getElementById('category');
  var sentinel = document.getElementById('sentinel');
  var end = document.getElementById('end');
  var state = { category: '', page: 0, hasMore: true, loading: false, generation: 0 };
  function dismissBanner() {
    var banner = document.getElementById('cookie-banner');
    if (banner) banner.remove();
    document.body.classList.remove('consent-pending');
  }
  if (document.cookie.split('; ').indexOf('cookie_consent=1') !== -1) dismissBanner();
  document.getElementById('cookie-accept').addEventListener('click', function () {
    document.cookie = 'cookie_consent=1; path=/; SameSite=Lax';
    dismissBanner();
  });
  function renderItem(item) {
    var el = document.createElement('div');
    el.className = 'item';
    el.setAttribute('data-id', String(item.id));
    el.setAttribute('data-category', item.category);
    var name = document.createElement('span');
    name.className = 'item-name';
    name.textContent = item.name;
    var price = document.createElement('span');
    price.className = 'item-price';
    price.setAttribute('data-price', item.price);
    price.textContent = item.price;
    el.append(name, ' ', price);
    return el;
  }
  var observer = new IntersectionObserver(function (entries) {
    if (entries.some(function (e) { return e.isIntersecting; })) loadMore();
  });
  function recheck() {
    observer.unobserve(sentinel);
    observer.observe(sentinel);
  }
  function loadMore() {
    if (state.loading || !state.hasMore) return;
    state.loading = true;
    var generation = state.generation;
    fetch('/interactive/items?category=' + encodeURIComponent(state.category) + '&page=' + (state.page + 1))
      .then(function (r) { return r.json(); })
      .then(function (batch) {
        if (generation !== state.generation) return;
        batch.items.forEach(function (item) { list.appendChild(renderItem(item)); });
        state.page = batch.page;
        state.hasMore = batch.hasMore;
        list.setAttribute('data-total', String(batch.total));
        list.setAttribute('data-loaded', String(list.children.length));
        end.hidden = state.hasMore;
      })
      .finally(function () {
        if (generation !== state.generation) return;
        state.loading = false;
        recheck();
      });
  }
  select.addEventListener('change', function () {
    state = { category: select.value, page: 0, hasMore: true, loading: false, generation: state.generation + 1 };
    list.replaceChildren();
    list.setAttribute('data-loaded', '0');
    end.hidden = true;
    recheck();
  });
  observer.observe(sentinel);
})();`;
  const body =
    `<div id="cookie-banner" role="dialog" aria-modal="true">\n` +
    `<p>This demo shop uses cookies. Accept them to browse the catalogue.</p>\n` +
    `<button id="cookie-accept" type="button">Accept all cookies</button>\n</div>\n` +
    `<main>\n<h1>Interactive catalogue</h1>\n` +
    `<p>${INTERACTIVE_TOTAL} items load in batches as you scroll. Filter them by category.</p>\n` +
    `<label for="category">Category</label>\n<select id="category" name="category">${options}</select>\n` +
    `<div id="items" data-loaded="0"></div>\n<div id="sentinel"></div>\n` +
    `<p id="end" hidden>End of the list.</p>\n</main>\n` +
    `<script>\n${script}\n</script>`;
  return document('Interactive catalogue · Demo shop', body, head).replace(
    '<body>',
    '<body class="consent-pending">',
  );
}

/**
 * A page referencing media served by the site (`/media/<n>`): three images `/assets/img/<n>-<i>.png`,
 * a video `/assets/video/<n>.webm`, an audio `/assets/audio/<n>.wav` (both `preload="auto"`) and a web
 * font `/assets/font/demo-<n>.woff2` the body text uses. Markers: `main.media[data-media-id]`, and
 * `div.media-loaded` appended on the window `load` event (after the images and the font were fetched or
 * failed).
 */
export function mediaPage(n: number): string {
  const head =
    `<style>\n@font-face { font-family: DemoFont; src: url('/assets/font/demo-${n}.woff2') format('woff2'); }\n` +
    `body { font-family: DemoFont, sans-serif; }\n</style>\n`;
  const images = [1, 2, 3]
    .map(
      (i) =>
        `<img src="/assets/img/${n}-${i}.png" alt="Picture ${i} of product ${n}" width="64" height="64">`,
    )
    .join('\n');
  const body =
    `<main class="media" data-media-id="${n}">\n<h1>Media for product ${n}</h1>\n${images}\n` +
    `<video controls muted preload="auto" width="160"><source src="/assets/video/${n}.webm" type="video/webm"></video>\n` +
    `<audio controls preload="auto"><source src="/assets/audio/${n}.wav" type="audio/wav"></audio>\n` +
    `<p>Images, a video, an audio track and a web font, all served by the demo site.</p>\n</main>\n` +
    `<script>addEventListener('load', function () { var m = document.createElement('div'); ` +
    `m.className = 'media-loaded'; document.body.appendChild(m); });</script>`;
  return document(`Media ${n} · Demo shop`, body, head);
}

export function statusPage(code: number): string {
  return document(
    `Status ${code}`,
    `<main class="status" data-status="${code}"><h1>Status ${code}</h1></main>`,
  );
}

export function notFoundPage(path: string): string {
  return document('Not found', `<main class="not-found"><h1>Not found</h1><p>${escapeHtml(path)}</p></main>`);
}

/** `/`: links to one page of each kind. */
export function indexPage(): string {
  const rows: [string, string][] = [
    ['/p/1', 'static product pages /p/<n> (n = 1..999999)'],
    ['/js/1', 'JavaScript-rendered product pages /js/<n>?delay=<ms> (wait for .product-loaded)'],
    ['/slow/1?ms=2000', 'slow product pages /slow/<n>?ms=<ms> (at most 120000 ms)'],
    ['/challenge/1', 'product pages behind a JavaScript challenge /challenge/<n>'],
    ['/interactive', 'cookie banner, category filter and infinite scroll'],
    ['/media/1', 'a page with images, video, audio and a web font /media/<n>'],
    ['/status/503', 'any final HTTP status /status/<code> (200..599; 1xx answers 400)'],
    ['/robots.txt', 'robots.txt naming the sitemap'],
    ['/sitemap.xml', 'a sitemap index: one sitemap per category (one gzip-compressed), lastmod per product'],
    ['/__catalog', 'what changed in the catalogue (JSON; PATCH/PUT/DELETE /__catalog/products/<n>)'],
    ['/__counters', 'request counters (JSON)'],
  ];
  const items = rows.map(([href, text]) => `<li><a href="${href}">${escapeHtml(text)}</a></li>`).join('\n');
  return document('Demo shop', `<main class="index">\n<h1>Demo shop</h1>\n<ul>\n${items}\n</ul>\n</main>`);
}

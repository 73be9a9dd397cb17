import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { product } from '../../devkit/demo-site/catalog.js';
import { challengeNonce } from '../../devkit/demo-site/challenge.js';
import {
  challengePage,
  indexPage,
  interactivePage,
  jsPage,
  mediaPage,
  productPage,
} from '../../devkit/demo-site/pages.js';
import { isChallengePage, needsRendering } from '../../devkit/local-api/challenge.js';

describe('isChallengePage', () => {
  it('recognises the demo site challenge and nothing else of its pages', () => {
    assert.equal(isChallengePage(challengePage(challengeNonce(1), '/challenge/1')), true);
    assert.equal(isChallengePage(challengePage(challengeNonce(1), '/challenge/1', true)), true);
    for (const html of [
      productPage(product(1), 'static'),
      jsPage(1, 300),
      interactivePage(),
      mediaPage(1),
      indexPage(),
    ]) {
      assert.equal(isChallengePage(html), false);
    }
  });

  it('needs the marker inside a tag, not in text', () => {
    assert.equal(isChallengePage('<span data-challenge-nonce="x"></span>'), true);
    assert.equal(isChallengePage('<p>the attribute data-challenge-nonce="x" marks challenges</p>'), false);
  });
});

describe('needsRendering', () => {
  it('is true for an empty app root with scripts and little text', () => {
    assert.equal(needsRendering(jsPage(1, 300)), true);
    assert.equal(needsRendering('<body><div id="root"></div><script src="/app.js"></script></body>'), true);
    assert.equal(
      needsRendering(
        "<body><div id='__next'>\n </div><script>x()</script><noscript>Enable JavaScript</noscript></body>",
      ),
      true,
    );
  });

  it('is false for server-rendered pages, pages without scripts, or with plenty of text', () => {
    assert.equal(needsRendering(productPage(product(1), 'static')), false);
    assert.equal(needsRendering(challengePage(challengeNonce(1), '/challenge/1')), false);
    assert.equal(needsRendering(interactivePage()), false);
    assert.equal(needsRendering('<body><div id="app"></div></body>'), false, 'no script');
    assert.equal(
      needsRendering('<body><div id="app"><h1>Hi</h1></div><script></script></body>'),
      false,
      'filled root',
    );
    assert.equal(
      needsRendering('<body><div data-id="app"></div><script></script></body>'),
      false,
      'not an id',
    );
    assert.equal(needsRendering('<body><div id="app-shell"></div><script></script></body>'), false);
    const text = 'word '.repeat(60);
    assert.equal(needsRendering(`<body><div id="app"></div><p>${text}</p><script></script></body>`), false);
  });
});

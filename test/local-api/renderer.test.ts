import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { startDemoSite, type DemoSite } from '../../devkit/demo-site/index.js';
import { isChallengePage, needsRendering } from '../../devkit/local-api/challenge.js';
import { Renderer, type RenderJob, type RenderResult } from '../../devkit/local-api/renderer.js';

// Real Chromium against the real demo site. Renders are slow on a small shared machine: every test
// here does at most a few, and one browser serves the whole file.
describe('Renderer', { timeout: 120_000 }, () => {
  let site: DemoSite;
  let renderer: Renderer;
  let renders = 0;
  const render = (job: Omit<RenderJob, 'solve'> & { solve?: boolean }): Promise<RenderResult> => {
    renders++;
    return renderer.render({ solve: false, ...job });
  };

  before(async () => {
    site = await startDemoSite();
    renderer = new Renderer({ maxPages: 2 });
  });
  after(async () => {
    await renderer?.close();
    await site?.close();
  });

  it('renders a JavaScript page whose product a plain fetch does not see', async () => {
    const plain = await (await fetch(`${site.origin}/js/5`)).text();
    assert.doesNotMatch(plain, /<h1>|data-price=|SKU-000005/);
    assert.equal(needsRendering(plain), true);

    const result = await render({ url: `${site.origin}/js/5`, waitSelector: '.product-loaded' });
    assert.equal(result.status, 200);
    assert.equal(result.waitTimedOut, false);
    assert.equal(result.challengeDetected, false);
    assert.match(result.html, /<h1>Product 5<\/h1>/);
    assert.match(result.html, /<span data-price="11\.85">11\.85<\/span>/);
    assert.match(result.html, /<span class="product-sku">SKU-000005<\/span>/);
    assert.equal(result.finalUrl, `${site.origin}/js/5`);
    assert.equal(needsRendering(result.html), false);
  });

  it('reports a wait selector that does not appear in time, and still returns the HTML', async () => {
    const result = await render({
      url: `${site.origin}/js/6?delay=60000`,
      waitSelector: '.product-loaded',
      waitTimeoutMs: 300,
    });
    assert.equal(result.waitTimedOut, true);
    assert.equal(result.status, 200);
    assert.match(result.html, /<div id="app"><\/div>/);
  });

  it('returns the challenge as it is without the solver: rendering alone does not pass it', async () => {
    const before = site.counters();
    const result = await render({ url: `${site.origin}/challenge/8`, waitSelector: '[data-price]' });
    assert.equal(result.challengeDetected, true);
    assert.equal(result.solverUsed, false);
    assert.equal(result.challengeSolved, false);
    assert.equal(result.waitTimedOut, false, 'no wait behind an unsolved challenge');
    assert.equal(result.status, 403);
    assert.equal(isChallengePage(result.html), true);
    assert.doesNotMatch(result.html, /data-price/);
    assert.equal(site.counters().pages.challengeVerify, before.pages.challengeVerify);
  });

  it('solves the challenge with the solver and returns the real page', async () => {
    const before = site.counters();
    const result = await render({
      url: `${site.origin}/challenge/8`,
      solve: true,
      waitSelector: '[data-price]',
    });
    assert.equal(result.challengeDetected, true);
    assert.equal(result.solverUsed, true);
    assert.equal(result.challengeSolved, true);
    assert.equal(result.waitTimedOut, false);
    assert.equal(result.status, 200);
    assert.equal(result.finalUrl, `${site.origin}/challenge/8`);
    assert.equal(isChallengePage(result.html), false);
    assert.match(result.html, /<h1>Product 8<\/h1>/);
    assert.match(result.html, /<span class="product-sku">SKU-000008<\/span>/);
    const after = site.counters();
    assert.equal(after.pages.challengeVerify - before.pages.challengeVerify, 1);
    assert.equal(after.pages.challengePassed - before.pages.challengePassed, 1);
    assert.equal(after.challengeFailed, before.challengeFailed);
  });

  it('blocks images, media and fonts with blockMedia (counted at the demo site)', async () => {
    site.resetCounters();
    // `.media-loaded` appears on the load event, after the images and the font were requested.
    const waitSelector = '.media-loaded';
    const blocked = await render({ url: `${site.origin}/media/3`, blockMedia: true, waitSelector });
    assert.equal(blocked.status, 200);
    assert.equal(blocked.waitTimedOut, false);
    assert.match(blocked.html, /data-media-id="3"/);
    assert.ok((blocked.blockedRequests ?? 0) >= 4, `blocked ${blocked.blockedRequests}`);
    assert.deepEqual(site.counters().assets, { image: 0, video: 0, audio: 0, font: 0 });
    assert.equal(site.counters().pages.media, 1);

    // The same page without blocking: the browser fetches the images and the font.
    const open = await render({ url: `${site.origin}/media/3`, waitSelector });
    assert.equal(open.blockedRequests, 0);
    const counted = await site.waitForCounters((c) => c.assets.image === 3 && c.assets.font === 1);
    assert.equal(counted.pages.media, 2);
  });

  it('bounds open pages by maxPages, queues the rest, and aborts jobs through their signal', async () => {
    site.resetCounters();
    const slow = [new AbortController(), new AbortController()];
    const holders = slow.map((c, i) =>
      render({ url: `${site.origin}/slow/${i + 1}?ms=120000`, signal: c.signal }).then(
        () => 'finished',
        (err: Error) => err.name,
      ),
    );
    // Both slots are taken once both slow pages reached the server.
    await site.waitForCounters((c) => c.pages.slow === 2);
    assert.equal(renderer.stats().openPages, 2);

    const queued = render({ url: `${site.origin}/p/3` });
    const leaving = new AbortController();
    const gaveUp = render({ url: `${site.origin}/p/4`, signal: leaving.signal });
    assert.equal(renderer.stats().waitingJobs, 2, 'queued synchronously');
    leaving.abort();
    await assert.rejects(gaveUp, { name: 'AbortError' });
    assert.equal(renderer.stats().waitingJobs, 1);
    assert.equal(site.counters().pages.product, 0, 'the queued job has not navigated');

    slow[0]?.abort();
    assert.equal(await holders[0], 'AbortError');
    const result = await queued;
    assert.match(result.html, /<h1>Product 3<\/h1>/);
    assert.equal(site.counters().pages.product, 1);

    slow[1]?.abort();
    assert.equal(await holders[1], 'AbortError');
    // Closing the aborted jobs' contexts cancelled their requests: the demo site saw both clients go.
    await site.waitForCounters((c) => c.slowAborted === 2);
    assert.equal(renderer.stats().peakOpenPages, 2);
    assert.deepEqual(
      { open: renderer.stats().openPages, waiting: renderer.stats().waitingJobs },
      { open: 0, waiting: 0 },
    );
  });

  it('rejects a job whose signal is already aborted without opening a page', async () => {
    const reason = new Error('caller gave up');
    await assert.rejects(render({ url: `${site.origin}/p/9`, signal: AbortSignal.abort(reason) }), reason);
  });

  it('reused one browser for every job of this file', () => {
    assert.ok(renders >= 8);
    assert.equal(renderer.stats().launches, 1);
  });

  it('refuses jobs once closed', async () => {
    const closed = new Renderer();
    await closed.close();
    await assert.rejects(closed.render({ url: `${site.origin}/p/1`, solve: false }), /closed/);
    assert.equal(closed.stats().launches, 0);
    assert.throws(() => new Renderer({ maxPages: 0 }), RangeError);
  });
});

/** Chromium processes this test process launched (its direct children). */
function chromiumChildren(): number[] {
  return execFileSync('ps', ['-o', 'pid=,comm=', '--ppid', String(process.pid)], { encoding: 'utf8' })
    .split('\n')
    .filter((line) => /chrom/i.test(line))
    .map((line) => Number(line.trim().split(/\s+/)[0]));
}

describe('Renderer after a Chromium crash', { timeout: 120_000 }, () => {
  let site: DemoSite;
  let renderer: Renderer;

  before(async () => {
    site = await startDemoSite();
    renderer = new Renderer({ maxPages: 1 });
  });
  after(async () => {
    await renderer?.close();
    await site?.close();
  });

  it('launches a new browser for the next job', async () => {
    const before = chromiumChildren();
    assert.equal((await renderer.render({ url: `${site.origin}/p/1`, solve: false })).status, 200);
    const launched = chromiumChildren().filter((pid) => !before.includes(pid));
    assert.equal(launched.length, 1);
    for (const pid of launched) process.kill(pid, 'SIGKILL');
    // No wait for the disconnect: the next job meets the dead browser and replaces it.
    const result = await renderer.render({ url: `${site.origin}/p/2`, solve: false });
    assert.match(result.html, /<h1>Product 2<\/h1>/);
    assert.equal(renderer.stats().launches, 2);
  });
});

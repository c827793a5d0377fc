// Browser end-to-end: Debian's Chromium with the unpacked extension, the fixture sites at the platforms'
// real URLs, the real collector (owned by the pytest process, reached through a relay). The numbered steps
// below: (1) nothing captured before consent, (2) consent and settings, (3) chat on every platform, site
// exclusion, pause from the page's banner, (4) ratings in pages and popup, (5) delete and don't-share,
// (6) redaction summary, (7) capture-broken banner and screenshots, (8) exports, (9) publish with a lost
// answer and the collector killed, worker restart, retries, database check, (10) delete one shared
// conversation on the server, (11) "delete my data", (12) automatic upload after a short hold.
// The README's "Tests" section tells the same story in prose.
//
// Env: SHARELM_E2E_OUT (screenshots, downloads), CHROMIUM (default /usr/bin/chromium),
// SHARELM_E2E_DOCS=1 also refreshes docs/popup.png and docs/page.png, SHARELM_E2E_DEBUG=1 logs the relay.
// Run by services/plugin/tests/test_plugin.py, which answers its "@@control" requests.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, copyFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import Ajv2020 from 'ajv/dist/2020.js';
import { build, SCHEMA } from '../../scripts/build.mjs';
import { FIXTURES, render } from '../fixtures/generate.mjs';
import { controlChannel, relay, routeSites, sitePages } from './harness.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const pluginDir = resolve(here, '..', '..');
const OUT = process.env.SHARELM_E2E_OUT || join(pluginDir, 'test-results', 'e2e');
mkdirSync(OUT, { recursive: true });
const t0 = Date.now();
const log = (...a) => process.stderr.write(`[e2e ${((Date.now() - t0) / 1000).toFixed(1)}s] ${a.join(' ')}\n`);

const PII = ['jane.doe@example.com', '415 555 0132'];
const answerMd = (q) => `Here is what I know about **${q}**:\n\n\`\`\`js\nconsole.log(${q.length});\nreturn true;\n\`\`\`\n\n` +
  '- first point\n- second point with a [reference](https://example.com/ref)';
const keyOf = (name) => `${name}:${new URL(FIXTURES[name].url).pathname.match(/[^/]+$/)[0]}`;

async function chat(page, text) {
  const before = Number(await page.evaluate(() => document.body.dataset.fixtureAnswers || 0));
  await page.fill('[data-fixture-input]', text);
  await page.click('[data-fixture-send]');
  await page.waitForFunction((n) => Number(document.body.dataset.fixtureAnswers || 0) > n, before, POLL);
}

// Polling on a timer: requestAnimationFrame (the default) does not run in background tabs.
const POLL = { polling: 100, timeout: 15000 };

const bannerState = (page) => page.locator('.sharelm-banner .pill').getAttribute('data-state');
async function waitBanner(page, state) {
  await page.locator(`.sharelm-banner .pill[data-state="${state}"]`).waitFor({ timeout: 15000 });
}

const thumbsCount = (page) => page.locator('.sharelm-thumbs').count();
async function waitThumbs(page, n, what) {
  await page.waitForFunction((k) => document.querySelectorAll('.sharelm-thumbs').length === k, n, POLL)
    .catch(async () => { throw new Error(`${what}: expected ${n} rating bars, found ${await thumbsCount(page)}`); });
}

async function main() {
  const control = controlChannel();
  const collector = await control.call('url');
  const proxy = await relay(collector.url);
  const ext = build(mkdtempSync(join(tmpdir(), 'sharelm-ext-'))).chrome;
  const profile = mkdtempSync(join(tmpdir(), 'sharelm-profile-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: [`--disable-extensions-except=${ext}`, `--load-extension=${ext}`],
    viewport: { width: 1000, height: 800 },
    acceptDownloads: true,
  });
  try {
    const site = sitePages();
    const freshId = 'c/68a0f00d-0000-4000-8000-00000000feed';
    // An empty ChatGPT page whose turns are templates: the chat starts without an id and gets one.
    site.add('https://chatgpt.com/', render('chatgpt', { empty: true }), { pushId: `/${freshId}` });
    site.add('https://chatgpt.com/c/renamed-layout-1', site.fixture('chatgpt-renamed'));
    site.add('https://claude.ai/chat/00000000-0000-4000-8000-00000000aaaa', site.fixture('claude'));
    site.add('https://claude.ai/chat/11111111-2222-4333-8444-555555555555', site.fixture('claude'));
    await routeSites(context, site);

    let [sw] = context.serviceWorkers();
    if (!sw) sw = await context.waitForEvent('serviceworker');
    const extId = new URL(sw.url()).host;
    const stored = async () => Object.keys(await sw.evaluate(() => chrome.storage.local.get(null))).filter((k) => k.startsWith('conv:'));

    log('step 1');
    // 1. Before consent: a chat happens, nothing is stored and no buttons appear.
    const early = await context.newPage();
    await early.goto(FIXTURES.chatgpt.url);
    await chat(early, 'before consent');
    await early.waitForTimeout(1000);
    assert.deepEqual(await stored(), [], 'nothing is captured before consent');
    assert.equal(await thumbsCount(early), 0);
    await waitBanner(early, 'no consent'); // the in-page banner says why nothing is kept
    await early.close();

    log('step 2');
    // 2. Consent in the popup (both boxes needed).
    let popup = await context.newPage();
    await popup.setViewportSize({ width: 460, height: 820 });
    await popup.goto(`chrome-extension://${extId}/popup/popup.html`);
    await popup.waitForSelector('#consent:not([hidden])');
    await popup.screenshot({ path: join(OUT, 'popup-consent.png') });
    await popup.check('#consent-terms');
    assert.equal(await popup.isDisabled('#consent-accept'), true, 'terms alone are not enough');
    await popup.check('#consent-adult');
    await popup.click('#consent-accept');
    await popup.waitForSelector('#main:not([hidden])');
    const send = (msg) => popup.evaluate((m) => chrome.runtime.sendMessage(m), msg);
    await popup.click('#settings summary');
    await popup.fill('#collector', proxy.url);
    await popup.press('#collector', 'Tab');
    await popup.check('#sites input[value="copilot"]');
    // Short backoff so the retries after the collector returns happen within the test.
    await send({ type: 'setSettings', patch: { retryBaseSeconds: 1, retryMaxSeconds: 4 } });
    const settings = (await send({ type: 'state' })).result.settings;
    assert.equal(settings.collectorUrl, proxy.url);
    assert.equal(settings.holdHours, 24, 'default hold is 24 h');
    assert.deepEqual(settings.excludedSites, ['copilot']);

    log('step 3');
    // 3. Chat on every platform: the saved conversation is captured at once (two answers, two rating bars),
    //    a new exchange streams in and is captured too.
    const pages = {};
    const questions = {};
    for (const name of Object.keys(FIXTURES)) {
      if (name === 'copilot') continue; // excluded first, below
      const page = await context.newPage();
      pages[name] = page;
      // Query strings and fragments (tokens, search terms) never reach the stored page URL.
      await page.goto(`${FIXTURES[name].url}?utm_source=test&token=s3cret#section`);
      await waitThumbs(page, 2, name);
      questions[name] = `how does ${name} stream`;
      await chat(page, questions[name]);
      await waitThumbs(page, 3, name);
    }
    // A new ChatGPT chat: no id until the first answer, then /c/<id>; one record throughout.
    const fresh = await context.newPage();
    await fresh.goto('https://chatgpt.com/');
    await chat(fresh, 'first question in a new chat');
    await chat(fresh, 'second question in the same chat');
    await waitThumbs(fresh, 2, 'new chatgpt chat');
    const freshKey = `chatgpt:${freshId.split('/')[1]}`;
    await popup.waitForFunction((k) => document.querySelector(`li.conv[data-key="${k}"]`), freshKey, POLL);

    // Per-site "don't share": while Copilot is excluded nothing is kept there; once allowed again it is.
    const copilot = await context.newPage();
    pages.copilot = copilot;
    await copilot.goto(FIXTURES.copilot.url);
    await chat(copilot, 'said while copilot was excluded');
    await copilot.waitForTimeout(800);
    assert.equal(await thumbsCount(copilot), 0);
    assert.ok(!(await stored()).some((k) => k.startsWith('conv:copilot')), 'excluded site captured');
    await popup.bringToFront();
    await popup.uncheck('#sites input[value="copilot"]');
    await copilot.bringToFront();
    await copilot.goto(FIXTURES.copilot.url);
    await waitThumbs(copilot, 2, 'copilot');
    questions.copilot = 'how does copilot stream';
    await chat(copilot, questions.copilot);
    await waitThumbs(copilot, 3, 'copilot');

    // Global pause, from the in-page banner: a chat opened while paused is not captured; resuming captures it.
    await pages.chatgpt.bringToFront();
    assert.equal(await bannerState(pages.chatgpt), 'sharing');
    await pages.chatgpt.locator('.sharelm-banner button[data-action="pause"]').click();
    await waitBanner(pages.chatgpt, 'paused');
    await popup.bringToFront();
    await popup.waitForFunction(() => document.getElementById('pause').checked, null, POLL);
    const pausedPage = await context.newPage();
    await pausedPage.goto('https://claude.ai/chat/00000000-0000-4000-8000-00000000aaaa');
    await waitBanner(pausedPage, 'paused');
    await pausedPage.waitForTimeout(1000);
    assert.ok(!(await stored()).includes('conv:claude:00000000-0000-4000-8000-00000000aaaa'), 'captured while paused');
    await popup.bringToFront();
    await popup.uncheck('#pause');
    await waitThumbs(pausedPage, 2, 'after resume');
    await pausedPage.close();
    await send({ type: 'delete', key: 'claude:00000000-0000-4000-8000-00000000aaaa' });

    log('step 4');
    // 4. Ratings: in the page (injected buttons) and in the popup.
    // Playwright waits for animation frames before clicking, and background tabs get none: each page is
    // brought to the front before it is used.
    await fresh.bringToFront();
    await fresh.locator('.sharelm-thumbs').nth(0).locator('button[data-value="1"]').click();
    await pages.claude.bringToFront();
    await pages.claude.locator('.sharelm-thumbs').nth(2).locator('button[data-value="-1"]').click();
    await pages.gradio.bringToFront();
    const g = pages.gradio.locator('.sharelm-thumbs').nth(1);
    await g.locator('button[data-value="1"]').click();
    await g.locator('button[data-value="1"]').click(); // clicking again clears it
    await g.locator('button[data-value="-1"]').click();
    await fresh.screenshot({ path: join(OUT, 'page-thumbs.png') });
    await pages.gradio.waitForFunction(() => document.querySelectorAll('.sharelm-thumbs')[1].querySelector('[data-value="-1"]').getAttribute('aria-pressed') === 'true', null, POLL);
    const li = (key) => popup.locator(`li.conv[data-key="${key}"]`);
    await popup.bringToFront();
    await li(keyOf('gemini')).locator('.controls button.thumbup').click();
    await li(keyOf('perplexity')).locator('.controls button.thumbdown').click();
    await li(keyOf('hf-chatui')).locator('button.show').click();
    await li(keyOf('hf-chatui')).locator('.msg-thumbs').nth(1).locator('button.thumbup').click();
    await popup.waitForFunction((k) => {
      const b = document.querySelectorAll(`li.conv[data-key="${k}"] .msg-thumbs button.thumbup`)[1];
      return b && b.getAttribute('aria-pressed') === 'true';
    }, keyOf('hf-chatui'), POLL);
    // The in-page buttons follow ratings given in the popup.
    await pages['hf-chatui'].waitForFunction(() => document.querySelectorAll('.sharelm-thumbs')[1].querySelector('[data-value="1"]').getAttribute('aria-pressed') === 'true', null, POLL);

    log('step 5');
    // 5. Delete one conversation, keep one local only ("don't share").
    await li(keyOf('poe')).locator('button.delete').click();
    await li(keyOf('poe')).waitFor({ state: 'detached' });
    // "Don't share this chat" from the page's banner; the popup shows it, and its checkbox toggles it too.
    await pages.deepseek.bringToFront();
    await pages.deepseek.locator('.sharelm-banner button[data-action="dontShare"]').click();
    await waitBanner(pages.deepseek, 'dont share');
    await popup.bringToFront();
    const excluded = (want) => popup.waitForFunction(([k, w]) => {
      const item = document.querySelector(`li.conv[data-key="${k}"]`);
      return item && item.classList.contains('excluded') === w && item.querySelector('input.dont-share').checked === w;
    }, [keyOf('deepseek'), want], POLL);
    await excluded(true);
    await li(keyOf('deepseek')).locator('input.dont-share').uncheck();
    await excluded(false);
    await li(keyOf('deepseek')).locator('input.dont-share').check();
    await excluded(true);
    await waitBanner(pages.deepseek, 'dont share');
    // A deleted conversation is not captured again while its page stays open and grows.
    await pages.poe.bringToFront();
    await chat(pages.poe, 'poe after delete');
    await pages.poe.waitForTimeout(800);
    assert.ok(!(await stored()).includes(`conv:${keyOf('poe')}`), 'deleted conversation came back');
    assert.equal(await thumbsCount(pages.poe), 0);

    log('step 6');
    // 6. Redaction summary shown per conversation.
    const red = await li(keyOf('chatgpt')).locator('.redactions').textContent();
    assert.match(red, /1 email/);
    assert.match(red, /1 phone/);

    log('step 7');
    // 7. Capture broken: ChatGPT renamed its role attribute on a conversation page.
    const broken = await context.newPage();
    await broken.goto('https://chatgpt.com/c/renamed-layout-1');
    await popup.waitForSelector('.broken[data-platform="chatgpt"]', { timeout: 15000 });
    const banner = await popup.locator('.broken[data-platform="chatgpt"]').textContent();
    assert.match(banner, /Capture broken on ChatGPT.*no messages match/);
    await broken.close();
    await popup.bringToFront();

    // Screenshots: the list, then a preview with per-answer ratings.
    await popup.locator('#settings').evaluate((d) => { d.open = false; });
    await popup.locator('#list').evaluate((l) => { l.scrollTop = 0; });
    await popup.screenshot({ path: join(OUT, 'popup-list.png') });
    await li(keyOf('hf-chatui')).scrollIntoViewIfNeeded();
    await popup.screenshot({ path: join(OUT, 'popup-ratings.png') });
    if (process.env.SHARELM_E2E_DOCS) {
      copyFileSync(join(OUT, 'popup-list.png'), join(pluginDir, 'docs', 'popup.png'));
      copyFileSync(join(OUT, 'page-thumbs.png'), join(pluginDir, 'docs', 'page.png'));
    }

    // What must arrive: every kept conversation, with its ratings.
    const state = (await send({ type: 'state' })).result;
    const kept = state.conversations.filter((c) => !c.dont_share);
    const expect = {
      [keyOf('chatgpt')]: { ratings: [0, 0, 0], rate: null, question: questions.chatgpt },
      [freshKey]: { ratings: [1, 0], rate: null, question: 'second question in the same chat', first: 'first question in a new chat' },
      [keyOf('claude')]: { ratings: [0, 0, -1], rate: null, question: questions.claude },
      [keyOf('gemini')]: { ratings: [0, 0, 0], rate: 'thumbup', question: questions.gemini },
      [keyOf('perplexity')]: { ratings: [0, 0, 0], rate: 'thumbdown', question: questions.perplexity },
      [keyOf('hf-chatui')]: { ratings: [0, 1, 0], rate: null, question: questions['hf-chatui'] },
      [keyOf('mistral')]: { ratings: [0, 0, 0], rate: null, question: questions.mistral },
      [keyOf('grok')]: { ratings: [0, 0, 0], rate: null, question: questions.grok },
      [keyOf('copilot')]: { ratings: [0, 0, 0], rate: null, question: questions.copilot },
      [keyOf('qwen')]: { ratings: [0, 0, 0], rate: null, question: questions.qwen },
    };
    const expected = [];
    for (const c of kept) {
      let e = expect[c.key];
      if (c.platform === 'gradio') e = { ratings: [0, -1, 0], rate: null, question: questions.gradio };
      assert.ok(e, `unexpected kept conversation ${c.key}`);
      expected.push({ conversation_id: c.conversation_id, key: c.key, platform: c.platform, message_ratings: e.ratings, rate: e.rate,
        contains: [e.question, answerMd(e.question), ...(e.first ? [e.first] : [])], n_messages: e.ratings.length * 2,
        redactions: c.key === freshKey ? [] : ['email', 'phone'] });
    }
    assert.equal(expected.length, 11, `kept: ${kept.map((c) => c.key)}`);
    const notShared = state.conversations.filter((c) => c.dont_share).map((c) => c.conversation_id);
    assert.equal(notShared.length, 1);

    log('step 8');
    // 8. Exports: JSONL lines validate against sharelm's schema; CSV has the public columns.
    const validate = new Ajv2020({ strict: false }).compile(JSON.parse(readFileSync(SCHEMA, 'utf8')));
    const [jsonl] = await Promise.all([popup.waitForEvent('download'), popup.click('#export-jsonl')]);
    const lines = readFileSync(await jsonl.path(), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(lines.length, state.conversations.length);
    for (const row of lines) assert.ok(validate(row), JSON.stringify(validate.errors));
    for (const p of PII) assert.ok(!JSON.stringify(lines).includes(p), `export leaks ${p}`);
    const [csv] = await Promise.all([popup.waitForEvent('download'), popup.click('#export-csv')]);
    assert.ok(readFileSync(await csv.path(), 'utf8').startsWith('Conversation ID,User Message,Bot Response,'));

    log('step 9');
    // 9. Publish. The first upload is stored but its answer is lost (the retry must reuse its id: the
    //    collector then replaces, not duplicates); the collector dies right after acknowledging the second.
    let killReply = null;
    proxy.dropNextAck();
    proxy.armKill(async () => { killReply = await control.call('kill'); });
    await popup.click('#publish');
    await popup.waitForFunction(() => /published/.test(document.getElementById('publish-result').textContent), null, { ...POLL, timeout: 30000 });
    const result = await popup.locator('#publish-result').textContent();
    log('publish result:', result);
    assert.equal(proxy.dropped.length, 1);
    assert.ok(killReply && killReply.ids.includes(proxy.dropped[0]), `lost-answer upload not stored: ${JSON.stringify(killReply)}`);
    assert.match(result, /^1 published, 10 failed, will retry\. collector unreachable at http:\/\/127\.0\.0\.1:\d+/);
    assert.equal((await stored()).length, 11, 'failed conversations stay in the outbox (10) plus the unshared one');
    // Stored once, then replaced by the re-send of the same id: version 2; every other conversation: 1.
    for (const e of expected) e.version = e.conversation_id === proxy.dropped[0] ? 2 : 1;
    await popup.locator('#list').evaluate((l) => {
      for (const m of l.querySelectorAll('.messages')) m.hidden = true;
      l.scrollTop = 0;
    });
    await popup.screenshot({ path: join(OUT, 'popup-retrying.png') });

    // The collector returns; the extension's own retries deliver the rest (no user action).
    // The browser stops idle extension workers at will: stop ours (DevTools protocol) while the uploads
    // wait, so the retries must come from what was stored, not from timers in memory. Opening the popup
    // wakes it again.
    await sw.evaluate(() => { globalThis.__e2eMarker = 1; });
    const blank = await context.newPage();
    const cdp = await context.newCDPSession(blank);
    const versions = [];
    cdp.on('ServiceWorker.workerVersionUpdated', (e) => versions.push(...e.versions));
    await cdp.send('ServiceWorker.enable');
    const runningOf = () => versions.filter((v) => v.runningStatus === 'running' && v.scriptURL.includes(extId));
    for (const until = Date.now() + 15000; !runningOf().length; await blank.waitForTimeout(100)) {
      assert.ok(Date.now() < until, 'extension worker not found');
    }
    const running = runningOf();
    await cdp.send('ServiceWorker.stopWorker', { versionId: running[running.length - 1].versionId });
    const stoppedBy = Date.now() + 15000;
    while (!versions.some((v) => v.runningStatus === 'stopped')) {
      assert.ok(Date.now() < stoppedBy, 'worker did not stop');
      await blank.waitForTimeout(100);
    }
    await blank.close();
    await popup.goto(`chrome-extension://${extId}/popup/popup.html`);
    await popup.waitForSelector('#main:not([hidden])');
    [sw] = context.serviceWorkers();
    assert.equal(await sw.evaluate(() => globalThis.__e2eMarker), undefined, 'the worker was not restarted');
    assert.equal((await stored()).length, 11, 'the outbox survived the worker restart');

    await control.call('start');
    const retryDeadline = Date.now() + 90000;
    while ((await stored()).length !== 1) {
      assert.ok(Date.now() < retryDeadline, `retries did not deliver: ${await stored()}`);
      await popup.waitForTimeout(300);
    }
    // A shared conversation keeps its page's buttons: a rating given now goes to the collector (PATCH).
    await pages.claude.bringToFront();
    await pages.claude.locator('.sharelm-thumbs').nth(0).locator('button[data-value="1"]').click();
    await pages.claude.waitForFunction(() => document.querySelectorAll('.sharelm-thumbs')[0]
      .querySelector('[data-value="1"]').getAttribute('aria-pressed') === 'true', null, POLL);
    expected.find((e) => e.key === keyOf('claude')).message_ratings = [1, 0, -1];
    for (const until = Date.now() + 30000; ;) {
      const entry = (await send({ type: 'state' })).result.shared.find((u) => u.key === keyOf('claude'));
      if (entry && entry.rating_dirty === false) break;
      assert.ok(Date.now() < until, 'late rating not sent');
      await popup.waitForTimeout(200);
    }
    await control.call('verify', { expected, absent: notShared, forbidden: [...PII, 'before consent', 'poe after delete', 'said while copilot was excluded', 's3cret', 'utm_source'] });

    log('step 10');
    // 10. Delete one shared conversation on the server from the popup's "Shared" list.
    await popup.click('#shared-box summary');
    const gone = expected.find((e) => e.key === keyOf('grok'));
    await popup.locator(`li.shared-item[data-key="${gone.key}"] button.delete-shared`).click();
    await popup.waitForFunction(() => /Deleted from the server/.test(document.getElementById('shared-result').textContent), null, POLL);
    assert.equal(await popup.locator('li.shared-item').count(), 10);
    await control.call('verify', { expected: expected.filter((e) => e !== gone), absent: [gone.conversation_id], forbidden: [] });

    log('step 11');
    // 11. "Delete my data" erases everything of this contributor on the server.
    const oldContributor = (await send({ type: 'state' })).result.contributor;
    assert.ok(oldContributor);
    await popup.click('#settings summary');
    await popup.click('#delete-my-data');
    await popup.click('#delete-yes');
    await popup.waitForFunction(() => /erased/.test(document.getElementById('delete-result').textContent), null, POLL);
    await control.call('verify', { expected: [], absent: expected.map((e) => e.conversation_id), forbidden: [] });
    assert.equal((await send({ type: 'state' })).result.contributor, null, 'the token is forgotten');

    log('step 12');
    // 12. Without "Publish now": a short hold set in the popup, and a new conversation goes out by itself,
    //     from a new contributor (unlinkable to the erased one). The erased ones are not captured again.
    await popup.fill('#hold', '0.002'); // 7.2 s
    await popup.press('#hold', 'Tab');
    for (const until = Date.now() + 10000; (await send({ type: 'state' })).result.settings.holdHours !== 0.002;) {
      assert.ok(Date.now() < until, 'hold not saved');
      await popup.waitForTimeout(100);
    }
    await pages.mistral.bringToFront();
    await chat(pages.mistral, 'after the erasure');
    const lateKey = 'claude:11111111-2222-4333-8444-555555555555';
    const late = await context.newPage();
    await late.goto(`https://${lateKey.replace('claude:', 'claude.ai/chat/')}`);
    await waitThumbs(late, 2, 'late claude');
    await chat(late, 'after a short hold');
    let auto = null;
    for (const until = Date.now() + 60000; !auto; await popup.waitForTimeout(300)) {
      assert.ok(Date.now() < until, 'not uploaded after the hold');
      const st = (await send({ type: 'state' })).result;
      if (st.shared.some((u) => u.key === lateKey) && !st.conversations.some((c) => c.key === lateKey)) auto = st;
    }
    assert.deepEqual(auto.shared.map((u) => u.key), [lateKey], 'only the new conversation was shared');
    assert.ok(auto.contributor && auto.contributor !== oldContributor, 'a new contributor');
    await control.call('verify', {
      expected: [{ conversation_id: auto.shared[0].conversation_id, key: lateKey, platform: 'claude',
        message_ratings: [0, 0, 0], rate: null, n_messages: 6, redactions: ['email', 'phone'], version: 1,
        user_id: auto.contributor, contains: ['after a short hold', answerMd('after a short hold')] }],
      absent: [], forbidden: [...PII, 'after the erasure'],
    });
    log('all steps passed');
  } finally {
    await context.close();
    proxy.close();
    control.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

main().then(() => process.exit(0), (err) => {
  process.stderr.write(`[e2e] FAILED: ${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});

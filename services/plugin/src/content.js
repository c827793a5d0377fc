// Content script: on a page some adapter matches, watch the chat with a MutationObserver, send each change
// of the conversation (as Markdown) to the background, inject the rating buttons under every assistant
// answer, and report when the adapter's selectors stop matching. Nothing is read or sent before the user
// consented, while paused, or on a site the user excluded.
(function () {
  'use strict';
  if (window.__sharelmContent) return;
  window.__sharelmContent = true;
  const { ext, adapters, extract: X } = globalThis.ShareLM;

  const DEBOUNCE_MS = 300;
  const MAX_WAIT_MS = 2000;
  const SETTLE_MS = 800;

  let adapter = null;
  let allowed = false;
  let observer = null;
  let session = null; // {key, temp, firstMessage, count, path}
  let lastSent = '';
  let ratings = [];
  let loadedAt = Date.now();
  let lastUrl = location.href;
  let baselineText = 0;
  let lastUserChange = Date.now();
  let lastUserCount = 0;
  let lastHealth = '';
  let lastOkReport = 0;
  let refusedKey = null; // the conversation on screen was deleted or is excluded: no buttons on it
  let refusal = null; // why nothing is captured on this page (no consent, paused, site excluded), or null
  let chatState = 'idle'; // this conversation: idle, sharing, dont share, already shared, deleted by the user
  let banner = null;

  const send = (msg) => ext.runtime.sendMessage(msg).then((r) => (r && r.ok ? r.result : null)).catch(() => null);
  const randomId = () => Math.random().toString(36).slice(2, 10) + Date.now().toString(36);

  function sessionFor(snap) {
    const path = location.pathname;
    const first = snap.messages[0] ? snap.messages[0].content : null;
    if (snap.platformConversationId) {
      const key = `${adapter.id}:${snap.platformConversationId}`;
      let previousKey = null;
      if (session && session.temp && session.firstMessage && session.firstMessage === first) previousKey = session.key;
      if (!session || session.key !== key) session = { key, temp: false, firstMessage: first, count: 0, path };
      return previousKey;
    }
    const sameChat = session && session.temp && session.path === path &&
      (!session.firstMessage || session.firstMessage === first) && snap.messages.length >= session.count;
    if (!sameChat) session = { key: `${adapter.id}:local-${randomId()}`, temp: true, firstMessage: first, count: 0, path };
    return null;
  }

  function thumbs(el, index) {
    let box = el.querySelector(':scope > .sharelm-thumbs');
    if (!box) {
      box = document.createElement('span');
      box.className = 'sharelm-ui sharelm-thumbs';
      box.setAttribute('style', 'display:inline-flex;gap:4px;margin:4px 0;font-size:14px;');
      for (const [v, title] of [[1, 'Good answer (ShareLM)'], [-1, 'Bad answer (ShareLM)']]) {
        const b = document.createElement('button');
        b.type = 'button';
        b.dataset.value = String(v);
        b.title = title;
        b.setAttribute('aria-label', title);
        b.appendChild(globalThis.ShareLM.icons.thumb(document, v < 0));
        b.setAttribute('style', 'border:1px solid #bbb;border-radius:6px;background:#fff;color:#374151;cursor:pointer;padding:2px 6px;line-height:0;opacity:.6;');
        box.appendChild(b);
      }
      el.appendChild(box);
    }
    box.dataset.index = String(index);
    for (const b of box.querySelectorAll('button')) {
      const on = ratings[index] === Number(b.dataset.value);
      b.setAttribute('aria-pressed', String(on));
      b.style.opacity = on ? '1' : '.6';
      b.style.background = on ? '#dbeafe' : '#fff';
      b.style.color = on ? '#1d4ed8' : '#374151';
    }
  }

  function paintThumbs(snap) {
    snap.assistantTurns.forEach((el, i) => thumbs(el, i));
  }

  document.addEventListener('click', async (ev) => {
    const b = ev.target.closest && ev.target.closest('.sharelm-thumbs button');
    if (!b || !session) return;
    ev.preventDefault();
    ev.stopPropagation();
    const index = Number(b.closest('.sharelm-thumbs').dataset.index);
    const rec = await send({ type: 'rateMessage', key: session.key, index, value: Number(b.dataset.value) });
    if (rec) {
      ratings = rec.message_ratings;
      paintThumbs(X.extract(adapter, document, location.href));
    }
  }, true);

  // Text the page shows, not counting what the user is typing (composers are contenteditable or textareas).
  function bodyTextLength() {
    if (!document.body) return 0;
    let n = document.body.textContent.length;
    for (const ed of document.querySelectorAll('[contenteditable="true"], [contenteditable=""], textarea')) {
      if (!ed.parentElement || !ed.parentElement.closest('[contenteditable="true"], [contenteditable=""]')) n -= ed.textContent.length;
    }
    return n;
  }

  // "New text but no turns" only counts after the user sent something: sidebars and feeds grow on their own.
  let userSent = false;
  function markSent() {
    userSent = true;
    baselineText = bodyTextLength();
  }
  document.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && !ev.shiftKey && ev.target && (ev.target.isContentEditable || ev.target.tagName === 'TEXTAREA')) markSent();
  }, true);
  document.addEventListener('submit', markSent, true);

  function checkHealth(snap) {
    const now = Date.now();
    const userCount = snap.messages.filter((m) => m.role === 'user').length;
    if (userCount !== lastUserCount) {
      lastUserCount = userCount;
      lastUserChange = now;
    }
    const text = bodyTextLength();
    if (snap.messages.length) baselineText = text;
    const status = X.health(adapter, snap, {
      sinceLoadMs: now - loadedAt,
      sinceLastUserMs: now - lastUserChange,
      textGrowth: userSent ? text - baselineText : 0,
    });
    const sig = status.ok ? `ok${status.idle ? '-idle' : ''}` : status.reason;
    const reportOk = status.ok && !status.idle && now - lastOkReport > 60000;
    if (sig !== lastHealth || reportOk) {
      lastHealth = sig;
      if (status.ok && !status.idle) lastOkReport = now;
      send({ type: 'health', platform: adapter.id, status: { ...status, url: X.cleanUrl(location.href) } });
    }
  }

  async function scan() {
    if (!adapter || !allowed) return;
    if (location.href !== lastUrl) {
      lastUrl = location.href;
      loadedAt = Date.now();
      lastHealth = '';
      baselineText = bodyTextLength();
    }
    // The URL of the next conversation can show while the page still renders the previous one: let the
    // page settle before filing what it shows under the new id.
    const settling = SETTLE_MS - (Date.now() - loadedAt);
    if (session && settling > 0) {
      setTimeout(scan, settling);
      return;
    }
    const snap = X.extract(adapter, document, location.href);
    checkHealth(snap);
    if (!snap.messages.length) return;
    const previousKey = sessionFor(snap);
    const sig = JSON.stringify([session.key, snap.messages, snap.modelName]);
    if (sig !== lastSent) {
      lastSent = sig;
      session.count = snap.messages.length;
      session.firstMessage = snap.messages[0].content;
      const r = await send({
        type: 'capture',
        key: session.key,
        previousKey,
        platform: snap.platform,
        platformConversationId: snap.platformConversationId,
        pageUrl: snap.pageUrl,
        modelName: snap.modelName,
        title: snap.title,
        messages: snap.messages,
      });
      // A shared conversation keeps its buttons: ratings given now are sent to the collector as updates.
      refusedKey = r && !r.stored && !r.shared ? session.key : null;
      if (r && (r.stored || r.shared)) ratings = r.message_ratings || [];
      if (r) chatState = r.stored ? (r.dont_share ? 'dont share' : 'sharing') : r.reason;
      showBanner();
    }
    if (refusedKey === session.key) {
      for (const b of document.querySelectorAll('.sharelm-thumbs')) b.remove();
      return;
    }
    paintThumbs(snap);
  }

  // Debounced: streaming answers mutate the page many times a second; scan at most every MAX_WAIT_MS while
  // they stream and once more when they settle.
  let timer = null;
  let firstPending = 0;
  function schedule() {
    const now = Date.now();
    if (!timer) firstPending = now;
    clearTimeout(timer);
    const wait = now - firstPending > MAX_WAIT_MS ? 0 : DEBOUNCE_MS;
    timer = setTimeout(() => {
      timer = null;
      scan();
    }, wait);
  }

  function ours(node) {
    const el = node.nodeType === 1 ? node : node.parentElement;
    return Boolean(el && el.closest && el.closest('.sharelm-ui'));
  }

  function start() {
    if (observer) return;
    // Our own buttons going in or out of the page are not chat changes.
    const mine = (r) => {
      const nodes = [...r.addedNodes, ...r.removedNodes];
      return ours(r.target) || (nodes.length > 0 && nodes.every(ours));
    };
    observer = new MutationObserver((records) => {
      if (!records.every(mine)) schedule();
    });
    const rootEl = (adapter.root && document.querySelector(adapter.root)) || document.body || document.documentElement;
    observer.observe(rootEl, { childList: true, subtree: true, characterData: true });
    loadedAt = Date.now();
    baselineText = bodyTextLength(); // text the page had before any chat grew it
    scan();
    // A page that never mutates still gets a health verdict once the grace period is over.
    setTimeout(scan, 4500);
  }

  function stop() {
    if (observer) observer.disconnect();
    observer = null;
    for (const b of document.querySelectorAll('.sharelm-thumbs')) b.remove();
  }

  function showBanner() {
    if (banner) banner.update(refusal || chatState);
  }

  async function onBannerAction(action) {
    if (action === 'pause' || action === 'resume') {
      await send({ type: 'setPaused', value: action === 'pause' });
    } else if (session && (action === 'dontShare' || action === 'share')) {
      const rec = await send({ type: 'setDontShare', key: session.key, value: action === 'dontShare' });
      if (rec) chatState = rec.dont_share ? 'dont share' : 'sharing';
      showBanner();
    }
  }

  async function refresh() {
    const r = await ext.runtime.sendMessage({ type: 'refusal', platform: adapter.id, key: null }).catch(() => null);
    allowed = Boolean(r && r.ok && r.result === null);
    refusal = r && r.ok ? r.result : null;
    if (!banner) banner = globalThis.ShareLM.banner.create(document, onBannerAction);
    showBanner();
    lastSent = ''; // re-send once: the background decides again (e.g. this conversation was just deleted)
    if (!allowed) stop();
    else if (observer) scan();
    else start();
  }

  function init() {
    adapter = X.findAdapter(adapters.ADAPTERS, location.href, document);
    if (!adapter) return false;
    refresh();
    ext.storage.onChanged.addListener((changes, area) => {
      if (area !== 'local') return;
      if (changes.consent || changes.settings || changes.tombstones) refresh();
      const shared = session && changes.uploaded && changes.uploaded.newValue && changes.uploaded.newValue[session.key];
      if (shared && !changes[`conv:${session.key}`]) {
        ratings = shared.message_ratings || [];
        paintThumbs(X.extract(adapter, document, location.href));
      }
      const mine = session && changes[`conv:${session.key}`];
      if (mine && mine.newValue) {
        ratings = mine.newValue.message_ratings || [];
        chatState = mine.newValue.dont_share ? 'dont share' : 'sharing';
        showBanner();
        paintThumbs(X.extract(adapter, document, location.href));
      } else if (mine && allowed) {
        // Shared (or deleted) and gone from storage: ask again (deleted: the buttons go; shared: they stay).
        lastSent = '';
        scan();
      }
    });
    return true;
  }

  // Apps detected by DOM (Gradio) may mount their root element after document_end.
  if (!init()) {
    let tries = 0;
    const retry = setInterval(() => {
      if (init() || ++tries >= 5) clearInterval(retry);
    }, 1000);
  }
})();

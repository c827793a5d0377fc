// Background (Chrome: service worker; Firefox: event page). Owns storage and uploads; content scripts and
// the popup talk to it with messages. Every handler is stateless across restarts: state lives in storage.
if (typeof importScripts === 'function') {
  importScripts('lib/browser.js', 'lib/adapters.js', 'lib/redact.js', 'lib/conversation.js', 'lib/store.js',
    'lib/outbox.js');
}

(function () {
  'use strict';
  const { ext, adapters, redact, conversation, store: storeLib, outbox: outboxLib } = globalThis.ShareLM;

  const ALARM = 'sharelm-flush';
  const store = storeLib.createStore(ext.storage.local);
  let redactorPromise = null;
  const getRedactor = () => {
    redactorPromise = redactorPromise || fetch(ext.runtime.getURL('rules/redaction_rules.json'))
      .then((r) => r.json())
      .then((rules) => redact.createRedactor(rules))
      .catch((err) => {
        redactorPromise = null;
        throw err;
      });
    return redactorPromise;
  };
  const outbox = outboxLib.createOutbox({ store, fetchImpl: (...a) => fetch(...a), getRedactor });

  // Automatic uploads: an alarm every minute survives worker shutdowns; a timer catches exact due times
  // (and short retry backoffs) while the worker is alive.
  let timer = null;
  async function schedule() {
    const wake = outboxLib.nextWake(await store.records(), await store.settings(), await store.uploaded());
    clearTimeout(timer);
    if (wake == null) return;
    const delay = Math.max(1000, wake - Date.now() + 50);
    if (delay < 10 * 60 * 1000) timer = setTimeout(() => autoFlush(), delay);
  }
  async function autoFlush() {
    try {
      await outbox.flush();
    } finally {
      await schedule();
    }
  }
  ext.alarms.create(ALARM, { periodInMinutes: 1 });
  ext.alarms.onAlarm.addListener((a) => {
    if (a.name === ALARM) autoFlush();
  });

  async function listing() {
    const [records, settings, redactor] = await Promise.all([store.records(), store.settings(), getRedactor()]);
    const hold = settings.holdHours * 3600 * 1000;
    return records.map((r) => {
      const c = conversation.toConversation(r, { redactor });
      return {
        key: r.key,
        conversation_id: r.conversation_id,
        platform: r.platform,
        platform_name: (adapters.ADAPTERS.find((a) => a.id === r.platform) || {}).name || r.platform,
        model_name: r.model_name,
        title: r.title,
        page_url: r.page_url,
        created_at: r.created_at,
        updated_at: r.updated_at,
        uploads_at: Math.max(r.upload.released ? 0 : r.updated_at + hold, r.upload.next_attempt_at),
        messages: c.conversation,
        redactions: c.conversation_metadata.extra.redactions || {},
        message_ratings: c.conversation_metadata.message_ratings,
        rate: r.rate,
        dont_share: r.dont_share,
        upload: r.upload,
      };
    });
  }

  async function exportAll(format) {
    const [records, redactor, auth, settings] = await Promise.all([store.records(), getRedactor(), store.auth(),
      store.settings()]);
    const convs = records.filter((r) => r.messages.length).map((r) => conversation.toConversation(r, {
      redactor, userId: auth ? auth.contributor_id : null, userMetadata: settings.userMetadata,
    }));
    return format === 'csv' ? conversation.toCsv(convs) : conversation.toJsonl(convs);
  }

  const handlers = {
    async capture(m) {
      const r = await store.capture(m);
      if (r.stored && r.changed) schedule();
      return r;
    },
    health: (m) => store.setHealth(m.platform, m.status),
    refusal: (m) => store.refusal(m.platform, m.key),
    async rateMessage(m) {
      const r = await store.rateMessage(m.key, m.index, m.value);
      if (r && r.shared) schedule(); // a rating for a shared conversation goes out now
      return r;
    },
    async rateConversation(m) {
      const r = await store.rateConversation(m.key, m.rate);
      if (r && r.shared) schedule();
      return r;
    },
    setDontShare: (m) => store.setDontShare(m.key, m.value),
    setPaused: (m) => store.setSettings({ paused: Boolean(m.value) }),
    getRecord: (m) => store.record(m.key),
    async delete(m) {
      await store.remove(m.key);
      return true;
    },
    acceptConsent: (m) => store.setConsent({ terms: Boolean(m.terms), adult: Boolean(m.adult), at: new Date().toISOString() }),
    async setSettings(m) {
      const s = await store.setSettings(m.patch);
      schedule();
      return s;
    },
    async state() {
      const [consent, settings, health, auth, uploaded] = await Promise.all([store.consent(), store.settings(),
        store.health(), store.auth(), store.uploaded()]);
      return {
        consent, settings, health,
        contributor: auth ? auth.contributor_id : null,
        shared: Object.entries(uploaded).map(([key, u]) => ({ key, ...u }))
          .sort((x, y) => y.uploaded_at - x.uploaded_at),
        platforms: adapters.ADAPTERS.map((a) => ({ id: a.id, name: a.name })),
        conversations: consent ? await listing() : [],
      };
    },
    async publishNow() {
      const summary = await outbox.flush({ force: true });
      schedule();
      return summary;
    },
    flush: () => outbox.flush(),
    export: (m) => exportAll(m.format),
    deleteMyData: () => outbox.deleteMyData(),
    deleteShared: (m) => outbox.deleteShared(m.key),
  };

  // Content scripts (on any web page) may only report captures, ratings and the banner's choices; everything
  // else (settings, publishing, exports, deletion on the server) answers the extension's own pages alone.
  // The in-page banner also offers pause/resume and "don't share this chat".
  const FROM_PAGES = new Set(['capture', 'health', 'refusal', 'rateMessage', 'getRecord', 'setPaused', 'setDontShare']);
  const extensionOrigin = ext.runtime.getURL('');

  ext.runtime.onMessage.addListener((msg, sender, sendResponse) => {
    const handler = handlers[msg && msg.type];
    if (!handler) return false;
    // Content scripts report the web page's URL; the popup (as a popup or opened in a tab) the extension's.
    const fromExtension = Boolean(sender && typeof sender.url === 'string' && sender.url.startsWith(extensionOrigin));
    if (!fromExtension && !FROM_PAGES.has(msg.type)) {
      sendResponse({ ok: false, error: `${msg.type} is only available to the extension's pages` });
      return false;
    }
    Promise.resolve()
      .then(() => handler(msg))
      .then((result) => sendResponse({ ok: true, result }))
      .catch((err) => sendResponse({ ok: false, error: String(err && err.message ? err.message : err) }));
    return true; // answer asynchronously
  });

  schedule();
})();

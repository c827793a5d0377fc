// Everything the extension keeps, on top of one key-value area (chrome.storage.local in the browser, a Map
// in unit tests). All writes go through one queue: the background receives captures, ratings and upload
// acknowledgements concurrently, and read-modify-write on storage must not interleave.
//
// Keys: "consent", "settings", "auth" {token, contributor_id}, "conv:<key>" one record per conversation,
// "tombstones" [key] (deleted conversations are never captured again), "uploaded" {key: {conversation_id,
// uploaded_at, platform, title, preview}} (so a conversation that grows after upload is re-sent under the
// same id, and the popup can list what was shared and delete it on the server), "health".
(function (root) {
  'use strict';

  const DEFAULT_SETTINGS = {
    paused: false,
    holdHours: 24,
    collectorUrl: 'http://localhost:8000',
    excludedSites: [],
    retryBaseSeconds: 30,
    retryMaxSeconds: 6 * 3600,
    userMetadata: { age: null, gender: null, location: null },
  };
  const PREFIX = 'conv:';
  const MAX_TOMBSTONES = 5000;

  function uuid() {
    if (root.crypto && root.crypto.randomUUID) return root.crypto.randomUUID().replace(/-/g, '');
    return Array.from({ length: 32 }, () => Math.floor(Math.random() * 16).toString(16)).join('');
  }

  /** FNV-1a of the messages: tells whether an uploaded conversation changed since (not a security hash). */
  function messagesHash(messages) {
    let h = 0x811c9dc5;
    const text = JSON.stringify(messages.map((m) => [m.role, m.content]));
    for (let i = 0; i < text.length; i++) {
      h ^= text.charCodeAt(i);
      h = Math.imul(h, 0x01000193) >>> 0;
    }
    return h.toString(16);
  }

  function sameMessages(a, b) {
    return a.length === b.length && a.every((m, i) => m.role === b[i].role && m.content === b[i].content);
  }

  function createStore(area, { now = () => Date.now() } = {}) {
    let chain = Promise.resolve();
    function serial(fn) {
      const run = chain.then(fn);
      chain = run.catch(() => {});
      return run;
    }
    const get1 = async (key, fallback) => {
      const got = await area.get(key);
      return got[key] === undefined ? fallback : got[key];
    };

    async function settings() {
      const s = await get1('settings', {});
      return { ...DEFAULT_SETTINGS, ...s };
    }
    const consent = () => get1('consent', null);
    const auth = () => get1('auth', null);

    async function records() {
      const all = await area.get(null);
      return Object.keys(all).filter((k) => k.startsWith(PREFIX)).map((k) => all[k])
        .sort((a, b) => b.updated_at - a.updated_at);
    }
    const record = (key) => get1(PREFIX + key, null);
    const putRecord = (rec) => area.set({ [PREFIX + rec.key]: rec });

    /** Why a capture from this platform/key would be refused right now, or null if it is allowed. */
    async function refusal(platform, key) {
      const c = await consent();
      if (!c || !c.terms || !c.adult) return 'no consent';
      const s = await settings();
      if (s.paused) return 'paused';
      if (s.excludedSites.includes(platform)) return 'site excluded';
      if (key && (await get1('tombstones', [])).includes(key)) return 'deleted by the user';
      return null;
    }

    /** Store what the content script saw. Re-keys a capture whose platform id appeared mid-chat. */
    function capture(c) {
      return serial(async () => {
        const reason = await refusal(c.platform, c.key);
        if (reason) return { stored: false, reason };
        let rec = await record(c.key);
        if (!rec && c.previousKey) {
          rec = await record(c.previousKey);
          if (rec) {
            await area.remove(PREFIX + c.previousKey);
            rec.key = c.key;
          }
        }
        const t = now();
        if (!rec) {
          const uploaded = (await get1('uploaded', {}))[c.key];
          // Shared and unchanged since: nothing to keep. Changed (the chat went on): a new local version
          // under the same id, with the ratings given before, to replace the shared one after its hold.
          if (uploaded && uploaded.hash === messagesHash(c.messages)) {
            return { stored: false, reason: 'already shared', shared: true, message_ratings: uploaded.message_ratings || [] };
          }
          rec = {
            key: c.key,
            conversation_id: uploaded ? uploaded.conversation_id : uuid(),
            platform: c.platform,
            created_at: uploaded && uploaded.created_at ? uploaded.created_at : t,
            updated_at: t,
            version: 0,
            messages: [],
            message_ratings: uploaded && uploaded.message_ratings ? uploaded.message_ratings : [],
            rate: uploaded ? uploaded.rate || null : null,
            dont_share: false,
            upload: { attempts: 0, next_attempt_at: 0, last_error: null, rejected: null },
          };
        }
        const changed = !sameMessages(rec.messages, c.messages);
        Object.assign(rec, {
          platform_conversation_id: c.platformConversationId || rec.platform_conversation_id || null,
          page_url: c.pageUrl || rec.page_url || null,
          model_name: c.modelName || rec.model_name || null,
          title: c.title || rec.title || null,
          messages: c.messages,
        });
        if (changed) {
          rec.version += 1;
          rec.updated_at = t;
          // A rejected upload is retried once the content changed.
          rec.upload.rejected = null;
        }
        await putRecord(rec);
        return { stored: true, changed, key: rec.key, message_ratings: rec.message_ratings, rate: rec.rate,
          dont_share: rec.dont_share };
      });
    }

    function update(key, fn) {
      return serial(async () => {
        const rec = await record(key);
        if (!rec) return null;
        fn(rec);
        await putRecord(rec);
        return rec;
      });
    }

    function toggled(ratings, index, value) {
      const r = (ratings || []).slice();
      while (r.length <= index) r.push(0);
      r[index] = r[index] === value ? 0 : value; // clicking the same thumb again clears it
      return r;
    }

    /**
     * Rate a kept conversation (part of its next upload), or a shared one: then the rating waits in the
     * "uploaded" entry (rating_dirty) until the outbox PATCHes it to the collector.
     */
    function rate(key, change) {
      return serial(async () => {
        const rec = await record(key);
        if (rec) {
          change(rec);
          rec.version += 1;
          await putRecord(rec);
          return rec;
        }
        const uploaded = await get1('uploaded', {});
        const entry = uploaded[key];
        if (!entry) return null;
        change(entry);
        Object.assign(entry, { rating_dirty: true, rating_attempts: 0, rating_next_at: 0 });
        await area.set({ uploaded });
        return { ...entry, key, shared: true };
      });
    }
    const rateMessage = (key, index, value) => rate(key, (r) => {
      r.message_ratings = toggled(r.message_ratings, index, value);
    });
    const rateConversation = (key, value) => rate(key, (r) => { r.rate = r.rate === value ? null : value; });

    /** The collector took the ratings sent (`sent`); a newer change made meanwhile stays dirty. */
    function ratingSent(key, sent) {
      return serial(async () => {
        const uploaded = await get1('uploaded', {});
        const entry = uploaded[key];
        if (!entry) return;
        const same = entry.rate === sent.rate &&
          JSON.stringify(entry.message_ratings || []) === JSON.stringify(sent.message_ratings);
        if (same) entry.rating_dirty = false;
        await area.set({ uploaded });
      });
    }

    function ratingFailed(key, error, delayMs) {
      return serial(async () => {
        const uploaded = await get1('uploaded', {});
        const entry = uploaded[key];
        if (!entry) return;
        entry.rating_attempts = (entry.rating_attempts || 0) + 1;
        entry.rating_next_at = now() + delayMs;
        entry.rating_error = error;
        await area.set({ uploaded });
      });
    }

    const setDontShare = (key, value) => update(key, (rec) => { rec.dont_share = Boolean(value); });

    function remove(key) {
      return serial(() => tombstone(key));
    }

    // Unqueued: callers hold the queue already.
    async function tombstone(key) {
      const tomb = await get1('tombstones', []);
      if (!tomb.includes(key)) tomb.push(key);
      await area.set({ tombstones: tomb.slice(-MAX_TOMBSTONES) });
      await area.remove(PREFIX + key);
    }

    /** Deleted on the server: no longer listed as shared, and never captured again. */
    function forgetUploaded(key) {
      return serial(async () => {
        const uploaded = await get1('uploaded', {});
        delete uploaded[key];
        await area.set({ uploaded });
        await tombstone(key);
      });
    }

    /** The collector acknowledged `version` of this record: only now may the local copy go. */
    function acknowledge(key, version, conversationId, summary = {}) {
      return serial(async () => {
        const rec = await record(key);
        const uploaded = await get1('uploaded', {});
        uploaded[key] = { ...summary, conversation_id: conversationId, uploaded_at: now() };
        if (rec && rec.version === version) {
          Object.assign(uploaded[key], { hash: messagesHash(rec.messages), message_ratings: rec.message_ratings,
            rate: rec.rate, created_at: rec.created_at });
        }
        await area.set({ uploaded });
        if (!rec) return;
        if (rec.version === version) {
          await area.remove(PREFIX + key);
        } else {
          rec.upload = { attempts: 0, next_attempt_at: 0, last_error: null, rejected: null };
          await putRecord(rec);
        }
      });
    }

    function uploadFailed(key, error, delayMs, released = false) {
      return update(key, (rec) => {
        rec.upload.released = rec.upload.released || released;
        rec.upload.attempts += 1;
        rec.upload.last_error = error;
        rec.upload.next_attempt_at = now() + delayMs;
      });
    }

    const uploadRejected = (key, reason) => update(key, (rec) => {
      rec.upload.rejected = reason;
      rec.upload.last_error = reason;
    });

    const setSettings = (patch) => serial(async () => {
      const s = { ...(await settings()), ...patch };
      await area.set({ settings: s });
      return s;
    });

    const setConsent = (c) => serial(() => area.set({ consent: c }));
    const setAuth = (a) => serial(() => (a ? area.set({ auth: a }) : area.remove('auth')));
    const uploaded = () => get1('uploaded', {});

    /** After "delete my data": what was shared is erased and is not captured again from open tabs. */
    function eraseShared() {
      return serial(async () => {
        for (const key of Object.keys(await get1('uploaded', {}))) await tombstone(key);
        await area.remove('uploaded');
      });
    }

    function setHealth(platform, status) {
      return serial(async () => {
        const h = await get1('health', {});
        const prev = h[platform] || {};
        h[platform] = {
          ...prev,
          ok: status.ok,
          reason: status.ok ? null : status.reason,
          url: status.url || prev.url || null,
          checked_at: now(),
          last_ok_at: status.ok && !status.idle ? now() : prev.last_ok_at || null,
        };
        await area.set({ health: h });
      });
    }
    const health = () => get1('health', {});

    return {
      settings, setSettings, consent, setConsent, auth, setAuth, records, record, capture, refusal,
      rateMessage, rateConversation, ratingSent, ratingFailed, setDontShare, remove, acknowledge, uploadFailed, uploadRejected,
      uploaded, eraseShared, forgetUploaded, setHealth, health,
    };
  }

  /** A chrome.storage.local-shaped area over a Map (unit tests). */
  function memoryArea() {
    const m = new Map();
    const clone = (v) => (v === undefined ? v : JSON.parse(JSON.stringify(v)));
    return {
      async get(keys) {
        const out = {};
        const list = keys == null ? [...m.keys()] : [].concat(keys);
        for (const k of list) if (m.has(k)) out[k] = clone(m.get(k));
        return out;
      },
      async set(obj) { for (const [k, v] of Object.entries(obj)) m.set(k, clone(v)); },
      async remove(keys) { for (const k of [].concat(keys)) m.delete(k); },
    };
  }

  const api = { createStore, memoryArea, messagesHash, DEFAULT_SETTINGS };
  root.ShareLM = root.ShareLM || {};
  root.ShareLM.store = api;
  if (typeof module === 'object' && module.exports) module.exports = api;
})(globalThis);

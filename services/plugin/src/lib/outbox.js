// Upload: conversations whose hold has passed go to the collector's POST /v1/conversations, one request
// each, under the contributor's Bearer token (registered through POST /v1/contributors on first use).
// A record leaves local storage only when the collector acknowledged it (store.acknowledge); network errors,
// 5xx and 429 back off exponentially; other 4xx are shown to the user as rejected and not retried until the
// conversation changes. The conversation id is the record's, so a retry after a lost answer is idempotent.
(function (root) {
  'use strict';

  const conv = typeof module === 'object' && module.exports ? require('./conversation.js') : root.ShareLM.conversation;

  const RETRYABLE = new Set([408, 425, 429]);

  function backoffMs(attempts, settings, rand = Math.random) {
    const base = settings.retryBaseSeconds * 1000;
    const cap = settings.retryMaxSeconds * 1000;
    const raw = Math.min(base * 2 ** Math.max(0, attempts), cap);
    return Math.round(raw * (0.8 + 0.4 * rand()));
  }

  function hasExchange(rec) {
    return rec.messages.some((m) => m.role === 'user') && rec.messages.some((m) => m.role === 'assistant');
  }

  /** Records that may be uploaded now (force: "publish now", ignoring the hold and the backoff timer). */
  function due(records, settings, t, force) {
    const hold = settings.holdHours * 3600 * 1000;
    return records.filter((r) => !r.dont_share && !r.upload.rejected && hasExchange(r) &&
      !settings.excludedSites.includes(r.platform) &&
      (force || ((r.upload.released || t - r.updated_at >= hold) && t >= r.upload.next_attempt_at)));
  }

  /** When the next automatic attempt is due (ms epoch), or null when nothing waits. */
  function nextWake(records, settings, uploaded = {}) {
    const hold = settings.holdHours * 3600 * 1000;
    const times = records.filter((r) => !r.dont_share && !r.upload.rejected && hasExchange(r))
      .map((r) => Math.max(r.upload.released ? 0 : r.updated_at + hold, r.upload.next_attempt_at))
      .concat(Object.values(uploaded).filter((u) => u.rating_dirty).map((u) => u.rating_next_at || 0));
    return times.length ? Math.min(...times) : null;
  }

  async function errorText(res) {
    try {
      const body = await res.json();
      const d = body.detail ?? body.message ?? body;
      return `HTTP ${res.status}: ${typeof d === 'string' ? d : JSON.stringify(d)}`.slice(0, 500);
    } catch {
      return `HTTP ${res.status}`;
    }
  }

  function createOutbox({ store, fetchImpl, getRedactor, now = () => Date.now(), rand = Math.random }) {
    let running = null;

    function endpoint(settings, path) {
      return settings.collectorUrl.replace(/\/+$/, '') + path;
    }

    async function token(settings, { renew = false } = {}) {
      const a = await store.auth();
      if (a && a.token && !renew) return a;
      const res = await fetchImpl(endpoint(settings, '/v1/contributors'), {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}',
      });
      if (res.status !== 201 && res.status !== 200) throw new Error(`registering: ${await errorText(res)}`);
      const body = await res.json();
      const fresh = { token: body.token, contributor_id: body.contributor_id };
      await store.setAuth(fresh);
      return fresh;
    }

    async function post(settings, auth, body) {
      return fetchImpl(endpoint(settings, '/v1/conversations'), {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${auth.token}` },
        body: JSON.stringify(body),
      });
    }

    async function sendOne(rec, settings, auth, redactor) {
      const body = conv.toConversation(rec, { redactor, userId: auth.contributor_id, userMetadata: settings.userMetadata });
      let res = await post(settings, auth, body);
      if (res.status === 401) {
        // The server forgot us (e.g. after "delete my data" elsewhere): register again, once.
        auth = await token(settings, { renew: true });
        body.user_id = auth.contributor_id;
        res = await post(settings, auth, body);
      }
      if (res.status === 200 || res.status === 201) {
        const first = body.conversation.find((m) => m.role === 'user') || body.conversation[0];
        await store.acknowledge(rec.key, rec.version, rec.conversation_id, {
          platform: rec.platform, title: body.conversation_metadata.title, preview: first.content.slice(0, 160),
        });
        return { outcome: 'sent', auth };
      }
      const reason = await errorText(res);
      if (res.status >= 500 || RETRYABLE.has(res.status)) throw Object.assign(new Error(reason), { auth });
      await store.uploadRejected(rec.key, reason);
      return { outcome: 'rejected', reason, auth };
    }

    /** Ratings given after a conversation was shared: PATCH /v1/conversations/{id}/rating, no hold. */
    async function sendRatings(settings, force) {
      const a = await store.auth();
      if (!a) return;
      const t = now();
      for (const [key, entry] of Object.entries(await store.uploaded())) {
        if (!entry.rating_dirty || (!force && t < (entry.rating_next_at || 0))) continue;
        const sent = { rate: entry.rate || null, message_ratings: entry.message_ratings || [] };
        try {
          const res = await fetchImpl(endpoint(settings, `/v1/conversations/${encodeURIComponent(entry.conversation_id)}/rating`), {
            method: 'PATCH',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${a.token}` },
            body: JSON.stringify(sent),
          });
          // 404: gone from the server (deleted there); 401/403: no longer ours to rate. Nothing left to do.
          if ([200, 401, 403, 404].includes(res.status)) await store.ratingSent(key, sent);
          else throw new Error(await errorText(res));
        } catch (err) {
          await store.ratingFailed(key, String(err.message || err), backoffMs(entry.rating_attempts || 0, settings, rand));
        }
      }
    }

    async function run(force) {
      const settings = await store.settings();
      const summary = { sent: 0, failed: 0, rejected: 0, errors: [] };
      if (await store.refusal(null, null) === 'no consent') return summary;
      if (settings.paused && !force) return summary;
      await sendRatings(settings, force);
      const todo = due(await store.records(), settings, now(), force);
      if (!todo.length) return summary;
      const redactor = await getRedactor();
      let auth = null;
      for (const rec of todo) {
        try {
          auth = auth || (await token(settings));
          const r = await sendOne(rec, settings, auth, redactor);
          auth = r.auth;
          if (r.outcome === 'sent') summary.sent += 1;
          else {
            summary.rejected += 1;
            summary.errors.push(r.reason);
          }
        } catch (err) {
          // fetch() rejects with a TypeError when no answer came at all (server down, connection dropped).
          const msg = err instanceof TypeError
            ? `collector unreachable at ${settings.collectorUrl} (${err.message})`
            : String(err && err.message ? err.message : err);
          // A conversation the user published keeps its release: its retries do not wait for the hold again.
          await store.uploadFailed(rec.key, msg, backoffMs(rec.upload.attempts, settings, rand), force);
          summary.failed += 1;
          summary.errors.push(msg);
        }
      }
      return summary;
    }

    /** One flush at a time; a flush asked for while one runs waits for it, then runs (force wins). */
    async function flush({ force = false } = {}) {
      while (running) await running.catch(() => {});
      running = run(force);
      try {
        return await running;
      } finally {
        running = null;
      }
    }

    /**
     * "Delete my data": the collector erases everything of this contributor; the token is forgotten (later
     * uploads come from a new contributor) and the erased conversations are not captured again.
     */
    async function deleteMyData() {
      const settings = await store.settings();
      const a = await store.auth();
      if (!a) return { deleted: false, reason: 'nothing was uploaded from this browser' };
      const res = await fetchImpl(endpoint(settings, '/v1/contributors/me'), {
        method: 'DELETE', headers: { authorization: `Bearer ${a.token}` },
      });
      if (res.status >= 300 && res.status !== 401 && res.status !== 404) {
        return { deleted: false, reason: await errorText(res) };
      }
      await store.setAuth(null);
      await store.eraseShared();
      return { deleted: true };
    }

    /** Delete one shared conversation on the server (it stays deleted: the key is tombstoned locally). */
    async function deleteShared(key) {
      const settings = await store.settings();
      const a = await store.auth();
      const entry = (await store.uploaded())[key];
      if (!a || !entry) return { deleted: false, reason: 'not shared from this browser' };
      const res = await fetchImpl(endpoint(settings, `/v1/conversations/${encodeURIComponent(entry.conversation_id)}`), {
        method: 'DELETE', headers: { authorization: `Bearer ${a.token}` },
      });
      if (res.status >= 300 && res.status !== 404) return { deleted: false, reason: await errorText(res) };
      await store.forgetUploaded(key);
      return { deleted: true };
    }

    return { flush, deleteMyData, deleteShared };
  }

  const api = { createOutbox, backoffMs, due, nextWake };
  root.ShareLM = root.ShareLM || {};
  root.ShareLM.outbox = api;
  if (typeof module === 'object' && module.exports) module.exports = api;
})(globalThis);

// A locally stored capture record -> a sharelm `Conversation` (the collection's schema, see
// packages/collection/src/sharelm/schema.py), redacted; plus the JSONL and CSV exports built from it.
(function (root) {
  'use strict';

  const SOURCE = 'share_lm_plugin';
  const CLIENT = 'sharelm-extension/0.1.0';

  /** One rating per assistant message (-1, 0, 1), padded or cut to the assistant turns captured. */
  function fitRatings(ratings, messages) {
    const n = messages.filter((m) => m.role === 'assistant').length;
    return Array.from({ length: n }, (_, i) => {
      const v = (ratings || [])[i];
      return v === 1 || v === -1 ? v : 0;
    });
  }

  /**
   * The upload/export body. The id is the extension's own random id for this conversation (kept across
   * re-captures and retries, so uploads are idempotent; unlinkable to the platform's id).
   */
  function toConversation(record, { redactor, userId = null, userMetadata = {} } = {}) {
    const total = {};
    const red = (text) => {
      if (!redactor || !text) return text;
      const out = redactor.redact(text);
      for (const [k, v] of Object.entries(out.counts)) total[k] = (total[k] || 0) + v;
      return out.text;
    };
    const conversation = record.messages.map((m) => ({ role: m.role, content: red(m.content) }));
    const title = red(record.title || null);
    const extra = { platform: record.platform, page_url: record.page_url, client: CLIENT };
    if (Object.keys(total).length) extra.redactions = total;
    return {
      conversation_id: record.conversation_id,
      conversation,
      model_name: record.model_name || null,
      user_id: userId,
      timestamp: new Date(record.created_at).toISOString(),
      source: SOURCE,
      user_metadata: {
        age: userMetadata.age || null,
        gender: userMetadata.gender || null,
        location: userMetadata.location || null,
      },
      conversation_metadata: {
        rate: record.rate || null,
        redacted: Object.keys(total).length ? 'True' : 'False',
        title,
        message_ratings: fitRatings(record.message_ratings, record.messages),
        extra,
      },
    };
  }

  function toJsonl(conversations) {
    return conversations.map((c) => JSON.stringify(c)).join('\n') + (conversations.length ? '\n' : '');
  }

  function csvCell(value) {
    const s = value == null ? '' : String(value);
    return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  }

  /** The public plugin's CSV columns first (one row per exchange), then what ours adds. */
  function toCsv(conversations) {
    const header = ['Conversation ID', 'User Message', 'Bot Response', 'Platform', 'Model',
      'Response Rating', 'Conversation Rating'];
    const rows = [header];
    for (const c of conversations) {
      const meta = c.conversation_metadata;
      const row = (user, bot, rating) => [c.conversation_id, user, bot, meta.extra.platform, c.model_name, rating, meta.rate];
      let user = '';
      let a = 0;
      for (const m of c.conversation) {
        if (m.role === 'user') {
          if (user) rows.push(row(user, '', '')); // two user turns in a row: the first got no answer
          user = m.content;
        } else if (m.role === 'assistant') {
          rows.push(row(user, m.content, meta.message_ratings[a++] || 0));
          user = '';
        }
      }
      if (user) rows.push(row(user, '', ''));
    }
    return rows.map((r) => r.map(csvCell).join(',')).join('\r\n') + '\r\n';
  }

  const api = { toConversation, toJsonl, toCsv, fitRatings, SOURCE };
  root.ShareLM = root.ShareLM || {};
  root.ShareLM.conversation = api;
  if (typeof module === 'object' && module.exports) module.exports = api;
})(globalThis);

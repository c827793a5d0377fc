// Applies one adapter (a row of the platform table) to a document: which platform this page is, the
// platform's conversation id, the model name, and the turns as Markdown. Pure functions of (adapter, DOM,
// URL), so the unit tests run them on saved fixtures exactly as the content script runs them on live pages.
(function (root) {
  'use strict';

  const md = typeof module === 'object' && module.exports ? require('./markdown.js') : root.ShareLM.markdown;

  function hostMatches(pattern, host) {
    if (pattern === '*') return true;
    if (pattern.startsWith('*.')) return host.endsWith(pattern.slice(1)) || host === pattern.slice(2);
    return host === pattern;
  }

  /** The adapter for this page, or null. URL rules first; `detect` selectors confirm DOM-detected apps. */
  function findAdapter(adapters, url, doc) {
    const u = new URL(url);
    for (const a of adapters) {
      if (!a.hosts.some((h) => hostMatches(h, u.hostname))) continue;
      if (a.paths && !new RegExp(a.paths).test(u.pathname)) continue;
      if (a.detect && !(doc && doc.querySelector(a.detect))) continue;
      return a;
    }
    return null;
  }

  /** The platform's own conversation id from the URL path (stable across reloads), or null. */
  function platformConversationId(adapter, url) {
    if (!adapter.conversationId) return null;
    const m = new RegExp(adapter.conversationId).exec(new URL(url).pathname);
    return m ? m[1] : null;
  }

  /** Page URL as stored: no query string, no fragment (they carry tokens, search terms, tracking ids). */
  function cleanUrl(url) {
    try {
      const u = new URL(url);
      return `${u.origin}${u.pathname}`;
    } catch {
      return null;
    }
  }

  function turnSelector(adapter) {
    return `${adapter.turns.user}, ${adapter.turns.assistant}`;
  }

  /** Turn elements in chat order, outermost match only (a turn nested in a matched turn is the same turn). */
  function turnElements(adapter, doc) {
    const scope = (adapter.root && doc.querySelector(adapter.root)) || doc;
    const sel = turnSelector(adapter);
    return Array.from(scope.querySelectorAll(sel))
      .filter((el) => !(el.parentElement && el.parentElement.closest(sel)))
      .map((el) => ({ el, role: el.matches(adapter.turns.user) ? 'user' : 'assistant' }));
  }

  function contentElement(adapter, el, role) {
    const sel = adapter.content && adapter.content[role];
    if (!sel) return el;
    return el.matches(sel) ? el : el.querySelector(sel) || el;
  }

  function messageText(adapter, el, role) {
    const body = contentElement(adapter, el, role);
    const ignore = adapter.ignore || [];
    if (role === 'user' && adapter.userFormat === 'text') return md.toText(body, ignore);
    return md.toMarkdown(body, ignore);
  }

  function modelName(adapter, doc) {
    if (!adapter.model) return null;
    const el = doc.querySelector(adapter.model);
    const text = el && el.textContent.replace(/\s+/g, ' ').trim();
    return text || null;
  }

  /**
   * Everything capture needs from the page. Consecutive turns of one role are merged into one message (some
   * sites split a long answer over several nodes); `assistantTurns[i]` is the element that carries the
   * rating buttons of assistant message i, so rating indexes match `message_ratings`.
   */
  function extract(adapter, doc, url) {
    const turns = turnElements(adapter, doc);
    const messages = [];
    const assistantTurns = [];
    let matchedRoles = { user: 0, assistant: 0 };
    for (const { el, role } of turns) {
      matchedRoles[role] += 1;
      const content = messageText(adapter, el, role);
      if (!content) continue;
      const last = messages[messages.length - 1];
      if (last && last.role === role) {
        last.content += `\n\n${content}`;
        if (role === 'assistant') assistantTurns[assistantTurns.length - 1] = el;
      } else {
        messages.push({ role, content });
        if (role === 'assistant') assistantTurns.push(el);
      }
    }
    return {
      platform: adapter.id,
      platformConversationId: platformConversationId(adapter, url),
      pageUrl: cleanUrl(url),
      modelName: modelName(adapter, doc),
      title: (doc.title || '').trim() || null,
      messages,
      assistantTurns,
      matched: matchedRoles,
    };
  }

  /**
   * Is capture working on this page? `ctx`: {everCaptured (this platform worked before, anywhere),
   * sinceLoadMs, textGrowth (characters the page gained while no turn matched)}.
   * Broken means a selector stopped matching where there must be messages: a conversation URL that shows
   * no turns, user turns without any assistant turn after a while, or a page that keeps gaining text while
   * no turn matches. A fresh empty chat is not broken.
   */
  function health(adapter, snapshot, ctx) {
    const sel = turnSelector(adapter);
    const graceMs = ctx.graceMs ?? 4000;
    if (snapshot.messages.length === 0) {
      if (snapshot.platformConversationId && ctx.sinceLoadMs > graceMs) {
        return { ok: false, reason: `no messages match "${sel}" on a conversation page` };
      }
      if (ctx.textGrowth > 400) {
        return { ok: false, reason: `the page shows new text but no messages match "${sel}"` };
      }
      return { ok: true, idle: true };
    }
    const roles = new Set(snapshot.messages.map((m) => m.role));
    if (!roles.has('assistant') && ctx.sinceLastUserMs > (ctx.answerGraceMs ?? 30000)) {
      return { ok: false, reason: `user turns match but no assistant turn matches "${adapter.turns.assistant}"` };
    }
    if (!roles.has('user') && roles.has('assistant') && ctx.sinceLoadMs > graceMs) {
      return { ok: false, reason: `assistant turns match but no user turn matches "${adapter.turns.user}"` };
    }
    return { ok: true };
  }

  const api = { findAdapter, platformConversationId, cleanUrl, extract, health, turnElements };
  root.ShareLM = root.ShareLM || {};
  root.ShareLM.extract = api;
  if (typeof module === 'object' && module.exports) module.exports = api;
})(globalThis);

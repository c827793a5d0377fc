// The popup: consent first; then the stored conversations with preview, redaction summary, ratings,
// don't-share, delete; publish now, exports, settings, "delete my data". All state comes from the
// background ("state" message) and is re-rendered after each action.
(function () {
  'use strict';
  const { ext } = globalThis.ShareLM;
  const $ = (id) => document.getElementById(id);

  async function call(type, extra = {}) {
    const r = await ext.runtime.sendMessage({ type, ...extra });
    if (!r || !r.ok) throw new Error(r ? r.error : 'no answer from the extension');
    return r.result;
  }

  function el(tag, props = {}, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(props)) {
      if (k === 'dataset') Object.assign(e.dataset, v);
      else if (k in e && typeof v !== 'string') e[k] = v;
      else e.setAttribute(k, v);
    }
    for (const c of children) if (c != null) e.append(c);
    return e;
  }

  function ago(ms) {
    const s = Math.round(Math.abs(ms) / 1000);
    if (s < 90) return `${s} s`;
    if (s < 5400) return `${Math.round(s / 60)} min`;
    return `${Math.round(s / 3600)} h`;
  }

  function redactionText(counts) {
    const parts = Object.entries(counts).map(([k, v]) => `${v} ${k.replace(/_/g, ' ')}${v > 1 ? 's' : ''}`);
    return parts.length ? `Will redact: ${parts.join(', ')}` : 'Nothing to redact';
  }

  function thumbs(pressed, onRate, label) {
    return [[1, 'thumbup'], [-1, 'thumbdown']].map(([v, name]) => el('button', {
      class: `thumb ${name}`,
      title: `${label}: ${name === 'thumbup' ? 'good' : 'bad'}`,
      'aria-label': `${label}: ${name === 'thumbup' ? 'good' : 'bad'}`,
      'aria-pressed': String(pressed === v || pressed === name),
      onclick: () => onRate(v, name),
    }, globalThis.ShareLM.icons.thumb(document, v < 0)));
  }

  function renderConversation(c, settings) {
    const key = c.key;
    const firstUser = (c.messages.find((m) => m.role === 'user') || c.messages[0] || { content: '' }).content;
    const due = c.uploads_at - Date.now();
    const when = c.dont_share ? 'not shared' : c.upload.rejected ? 'rejected' : c.upload.attempts
      ? `retry in ${ago(Math.max(0, c.upload.next_attempt_at - Date.now()))}`
      : due > 0 ? `uploads in ${ago(due)}` : 'uploading soon';
    const messages = el('div', { class: 'messages', hidden: true });
    let a = 0;
    for (const m of c.messages) {
      const box = el('div', { class: `msg ${m.role}` },
        el('div', { class: 'role' }, m.role), el('div', { class: 'content' }, m.content));
      if (m.role === 'assistant') {
        const index = a++;
        const rate = (v) => act('rateMessage', { key, index, value: v });
        box.append(el('div', { class: 'msg-thumbs' }, ...thumbs(c.message_ratings[index], rate, 'Answer')));
      }
      messages.append(box);
    }
    const redactions = c.redactions || {};
    const item = { class: `conv${c.dont_share ? ' excluded' : ''}`, dataset: { key, conversationId: c.conversation_id } };
    return el('li', item,
      el('div', { class: 'head' },
        el('span', { class: 'platform' }, c.platform_name),
        el('span', { class: 'model' }, c.model_name || ''),
        el('span', { class: 'count muted' }, `${c.messages.length} messages`),
        el('span', { class: 'when' }, when)),
      el('div', { class: 'preview', title: firstUser }, firstUser.slice(0, 200)),
      el('div', { class: `redactions${Object.keys(redactions).length ? '' : ' none'}` }, redactionText(redactions)),
      el('div', { class: 'controls' },
        ...thumbs(c.rate, (_v, name) => act('rateConversation', { key, rate: name }), 'Conversation'),
        el('label', {}, el('input', { type: 'checkbox', class: 'dont-share', checked: c.dont_share,
          onchange: (e) => act('setDontShare', { key, value: e.target.checked }) }), " Don't share"),
        el('button', { class: 'show', onclick: () => { messages.hidden = !messages.hidden; } }, 'Preview'),
        el('button', { class: 'delete', onclick: () => act('delete', { key }) }, 'Delete')),
      c.upload.last_error ? el('div', { class: 'error' }, `Upload: ${c.upload.last_error}`) : null,
      messages);
  }

  function renderBroken(health, platforms) {
    const box = $('broken');
    box.replaceChildren();
    for (const [id, h] of Object.entries(health || {})) {
      if (h.ok) continue;
      const name = (platforms.find((p) => p.id === id) || { name: id }).name;
      const since = h.last_ok_at ? ` (worked ${ago(Date.now() - h.last_ok_at)} ago)` : '';
      box.append(el('div', { class: 'broken', dataset: { platform: id } },
        `Capture broken on ${name}${since}: ${h.reason}. Conversations there are not being saved.`));
    }
  }

  function renderShared(shared, platforms) {
    $('shared-count').textContent = String(shared.length);
    $('shared').replaceChildren(...shared.map((u) => el('li', { class: 'shared-item', dataset: { key: u.key, conversationId: u.conversation_id } },
      el('span', { class: 'platform' }, (platforms.find((p) => p.id === u.platform) || { name: u.platform || '' }).name),
      el('span', { class: 'preview', title: u.preview || '' }, u.title || u.preview || u.conversation_id),
      el('button', { class: 'delete-shared', onclick: async () => {
        let message;
        try {
          const r = await call('deleteShared', { key: u.key });
          message = r.deleted ? 'Deleted from the server.' : `Not deleted: ${r.reason}`;
        } catch (err) {
          message = `Error: ${err.message}`;
        }
        try {
          await render();  // the list first: when the message says deleted, the item is already gone
        } finally {
          $('shared-result').textContent = message;
        }
      } }, 'Delete from server'))));
  }

  async function render() {
    const s = await call('state');
    const consented = s.consent && s.consent.terms && s.consent.adult;
    $('consent').hidden = Boolean(consented);
    $('main').hidden = !consented;
    $('pause-wrap').hidden = !consented;
    if (!consented) return;
    $('pause').checked = s.settings.paused;
    renderBroken(s.health, s.platforms);
    const waiting = s.conversations.filter((c) => !c.dont_share).length;
    $('summary').textContent = `${s.conversations.length} stored, ${waiting} to share` +
      `${s.shared.length ? `, ${s.shared.length} shared` : ''}${s.settings.paused ? ' - paused' : ''}`;
    renderShared(s.shared, s.platforms);
    // Re-rendering must not close the previews the user opened.
    const items = () => [...document.querySelectorAll('.conv')];
    const open = new Set(items().filter((li) => !li.querySelector('.messages').hidden).map((li) => li.dataset.key));
    $('list').replaceChildren(...s.conversations.map((c) => renderConversation(c, s.settings)));
    for (const li of items()) if (open.has(li.dataset.key)) li.querySelector('.messages').hidden = false;
    $('empty').hidden = s.conversations.length > 0;
    if (document.activeElement !== $('hold')) $('hold').value = s.settings.holdHours;
    if (document.activeElement !== $('collector')) $('collector').value = s.settings.collectorUrl;
    const meta = s.settings.userMetadata || {};
    for (const f of ['age', 'gender', 'location']) {
      if (document.activeElement !== $(`meta-${f}`)) $(`meta-${f}`).value = meta[f] || '';
    }
    const siteBox = (p) => el('label', {}, el('input', {
      type: 'checkbox', value: p.id, checked: s.settings.excludedSites.includes(p.id), onchange: toggleSite,
    }), ` ${p.name}`);
    $('sites').replaceChildren(el('legend', {}, "Don't share on"), ...s.platforms.map(siteBox));
  }

  async function act(type, extra) {
    try {
      await call(type, extra);
    } catch (err) {
      $('publish-result').textContent = `Error: ${err.message}`;
    }
    await render();
  }

  async function toggleSite() {
    const excluded = [...document.querySelectorAll('#sites input:checked')].map((i) => i.value);
    await act('setSettings', { patch: { excludedSites: excluded } });
  }

  function download(name, text, mime) {
    const url = URL.createObjectURL(new Blob([text], { type: mime }));
    const a = el('a', { href: url, download: name });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 5000);
  }

  function wire() {
    const boxes = [$('consent-terms'), $('consent-adult')];
    const bothChecked = () => boxes.every((x) => x.checked);
    for (const b of boxes) b.addEventListener('change', () => { $('consent-accept').disabled = !bothChecked(); });
    $('consent-accept').addEventListener('click', () => act('acceptConsent', { terms: boxes[0].checked, adult: boxes[1].checked }));
    $('pause').addEventListener('change', (e) => act('setSettings', { patch: { paused: e.target.checked } }));
    $('hold').addEventListener('change', (e) => {
      const h = Number(e.target.value);
      if (Number.isFinite(h) && h >= 0) act('setSettings', { patch: { holdHours: h } });
    });
    $('collector').addEventListener('change', (e) => {
      try {
        const u = new URL(e.target.value);
        act('setSettings', { patch: { collectorUrl: u.origin + u.pathname.replace(/\/+$/, '') } });
      } catch {
        $('publish-result').textContent = 'Collector: not a URL';
      }
    });
    for (const f of ['age', 'gender', 'location']) {
      $(`meta-${f}`).addEventListener('change', () => act('setSettings', { patch: { userMetadata: {
        age: $('meta-age').value.trim() || null,
        gender: $('meta-gender').value.trim() || null,
        location: $('meta-location').value.trim() || null,
      } } }));
    }
    $('publish').addEventListener('click', async () => {
      $('publish').disabled = true;
      $('publish-result').textContent = 'Publishing...';
      try {
        const r = await call('publishNow');
        const bits = [`${r.sent} published`];
        if (r.failed) bits.push(`${r.failed} failed, will retry`);
        if (r.rejected) bits.push(`${r.rejected} rejected`);
        $('publish-result').textContent = `${bits.join(', ')}.${r.errors.length ? ` ${r.errors[0]}` : ''}`;
      } catch (err) {
        $('publish-result').textContent = `Error: ${err.message}`;
      } finally {
        $('publish').disabled = false;
      }
      await render();
    });
    const exporter = (format, name, mime) => async () => download(name, await call('export', { format }), mime);
    $('export-jsonl').addEventListener('click', exporter('jsonl', 'sharelm-conversations.jsonl', 'application/x-ndjson'));
    $('export-csv').addEventListener('click', exporter('csv', 'sharelm-conversations.csv', 'text/csv'));
    $('delete-my-data').addEventListener('click', () => { $('delete-confirm').hidden = false; });
    $('delete-yes').addEventListener('click', async () => {
      $('delete-confirm').hidden = true;
      try {
        const r = await call('deleteMyData');
        $('delete-result').textContent = r.deleted ? 'Your data was erased from the server.' : `Not erased: ${r.reason}`;
      } catch (err) {
        $('delete-result').textContent = `Error: ${err.message}`;
      }
      await render();
    });
    // Captures and uploads happen while the popup is open: keep the list current.
    ext.storage.onChanged.addListener(() => { clearTimeout(wire.t); wire.t = setTimeout(render, 150); });
  }

  wire();
  render();
})();

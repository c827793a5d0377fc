// Loaded into the fixture pages by the e2e server: turns a saved chat page into a working one. Submitting
// the composer appends a user turn and streams an assistant turn, both cloned from the page's own turn
// markup, the way the real sites grow their DOM. A chat started on a page without an id moves to
// `__FIXTURE__.pushId` after the first answer (as ChatGPT does).
(function () {
  'use strict';
  const cfg = window.__FIXTURE__ || {};
  const templates = {};
  for (const t of document.querySelectorAll('template[data-fixture-template]')) {
    const el = t.content.firstElementChild;
    if (el && el.dataset.fixtureTurn && !templates[el.dataset.fixtureTurn]) templates[el.dataset.fixtureTurn] = el.cloneNode(true);
  }
  for (const el of document.querySelectorAll('[data-fixture-turn]')) templates[el.dataset.fixtureTurn] = el.cloneNode(true);
  const thread = document.querySelector('[data-fixture-thread]');
  const form = document.querySelector('[data-fixture-composer]');
  const esc = (s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  let turns = 0;

  function addTurn(role) {
    const el = templates[role].cloneNode(true);
    el.removeAttribute('data-fixture-turn');
    for (const id of el.querySelectorAll('[id]')) id.id = `${id.id}-${role}-${turns}`;
    if (el.id) el.id = `${el.id}-${turns}`;
    turns += 1;
    thread.appendChild(el);
    return el.querySelector('[data-fixture-slot]') || el;
  }

  function userText(slot, text) {
    const first = slot.firstElementChild;
    if (first) {
      const p = first.cloneNode(false);
      p.textContent = text;
      slot.replaceChildren(p);
    } else {
      slot.textContent = text;
    }
  }

  function answerParts(text) {
    return [
      `<p>Here is what I know about <strong>${esc(text)}`,
      `<p>Here is what I know about <strong>${esc(text)}</strong>:</p>`,
      `<pre><code class="language-js">console.log(${JSON.stringify(text.length)});\nreturn true;</code></pre>`,
      `<ul><li>first point</li><li>second point with a <a href="https://example.com/ref">reference</a></li></ul>`,
    ];
  }

  async function send(text) {
    userText(addTurn('user'), text);
    await new Promise((r) => setTimeout(r, 150));
    const slot = addTurn('assistant');
    slot.innerHTML = '';
    let html = '';
    for (const [i, part] of answerParts(text).entries()) {
      html = i === 1 ? part : html + part;
      slot.innerHTML = html; // streamed: the site re-renders the growing answer
      await new Promise((r) => setTimeout(r, 120));
    }
    if (cfg.pushId && location.pathname !== cfg.pushId) history.pushState({}, '', cfg.pushId);
    document.body.dataset.fixtureAnswers = String(Number(document.body.dataset.fixtureAnswers || 0) + 1);
  }

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const ta = form.querySelector('textarea');
    const text = ta.value.trim();
    ta.value = '';
    if (text) send(text);
  });
})();

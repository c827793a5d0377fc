// The in-page status pill (as the public plugin's banner): whether this chat is being kept, with "Pause"
// and "Don't share this chat" at hand. It lives in a shadow root, so the site's styles do not reach it and
// capture never reads it (its host carries .sharelm-ui).
(function (root) {
  'use strict';

  const TEXT = {
    'no consent': 'ShareLM is off: open the extension to accept the terms.',
    paused: 'ShareLM is paused.',
    'site excluded': 'ShareLM does not share on this site.',
    idle: 'ShareLM is on: chats here are kept for your review.',
    sharing: 'ShareLM keeps this chat for your review before sharing.',
    'dont share': 'ShareLM keeps this chat but will not share it.',
    'already shared': 'ShareLM shared this chat.',
    'deleted by the user': 'You deleted this chat from ShareLM: it is not kept.',
  };
  // Which actions each state offers: [label, action name].
  const ACTIONS = {
    paused: [['Resume', 'resume']],
    idle: [['Pause', 'pause']],
    sharing: [["Don't share this chat", 'dontShare'], ['Pause', 'pause']],
    'dont share': [['Share this chat', 'share'], ['Pause', 'pause']],
    'already shared': [['Pause', 'pause']],
  };
  const CSS = `
    .pill { position: fixed; right: 12px; bottom: 12px; z-index: 2147483647; display: flex; gap: 6px;
      align-items: center; max-width: 420px; padding: 6px 8px 6px 10px; border: 1px solid #cbd5e1;
      border-radius: 10px; background: #fff; color: #1f2937; box-shadow: 0 2px 8px rgba(0,0,0,.15);
      font: 12px/1.3 system-ui, sans-serif; }
    .pill[data-state="paused"], .pill[data-state="no consent"] { background: #fffbeb; }
    button { font: inherit; border: 1px solid #cbd5e1; border-radius: 6px; background: #f8fafc;
      padding: 2px 6px; cursor: pointer; white-space: nowrap; }
    button.close { border: none; background: none; padding: 0 2px; color: #6b7280; }`;

  /** create(document, onAction(name)) -> {update(state)}; state is a key of TEXT. */
  function create(doc, onAction) {
    const host = doc.createElement('div');
    host.className = 'sharelm-ui sharelm-banner';
    const shadow = host.attachShadow({ mode: 'open' });
    const style = doc.createElement('style');
    style.textContent = CSS;
    const pill = doc.createElement('div');
    pill.className = 'pill';
    pill.setAttribute('role', 'status');
    shadow.append(style, pill);
    let closed = false;

    function update(state) {
      if (closed) return;
      if (!host.isConnected && doc.body) doc.body.appendChild(host); // SPAs may replace the body's content
      pill.dataset.state = state;
      const text = doc.createElement('span');
      text.className = 'text';
      text.textContent = TEXT[state] || TEXT.idle;
      const buttons = (ACTIONS[state] || []).map(([label, action]) => {
        const b = doc.createElement('button');
        b.type = 'button';
        b.dataset.action = action;
        b.textContent = label;
        b.addEventListener('click', () => onAction(action));
        return b;
      });
      const close = doc.createElement('button');
      close.className = 'close';
      close.title = 'Hide on this page';
      close.textContent = '\u00d7';
      close.addEventListener('click', () => {
        closed = true;
        host.remove();
      });
      pill.replaceChildren(text, ...buttons, close);
    }
    return { update, host };
  }

  root.ShareLM = root.ShareLM || {};
  root.ShareLM.banner = { create, TEXT };
})(globalThis);

// Thumb icons as SVG built with DOM calls (no emoji font needed, no innerHTML on pages with Trusted Types).
(function (root) {
  'use strict';
  const THUMB = 'M2 21h4V9H2v12zm20-11c0-1.1-.9-2-2-2h-6.31l.95-4.57.03-.32c0-.41-.17-.79-.44-1.06L13.17 1 ' +
    '6.59 7.59C6.22 7.95 6 8.45 6 9v10c0 1.1.9 2 2 2h9c.83 0 1.54-.5 1.84-1.22l3.02-7.05c.09-.23.14-.47.14-.73v-2z';
  const NS = 'http://www.w3.org/2000/svg';

  /** A thumb icon; `down` turns it upside down. */
  function thumb(doc, down) {
    const svg = doc.createElementNS(NS, 'svg');
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('width', '14');
    svg.setAttribute('height', '14');
    svg.setAttribute('aria-hidden', 'true');
    if (down) svg.setAttribute('style', 'transform: rotate(180deg)');
    const path = doc.createElementNS(NS, 'path');
    path.setAttribute('fill', 'currentColor');
    path.setAttribute('d', THUMB);
    svg.appendChild(path);
    return svg;
  }

  root.ShareLM = root.ShareLM || {};
  root.ShareLM.icons = { thumb };
})(globalThis);

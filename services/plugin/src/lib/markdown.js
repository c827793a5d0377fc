// DOM -> Markdown, so captured messages keep code blocks, lists, links, tables and emphasis instead of the
// flattened textContent the public plugin stored. Works on any DOM (browser or jsdom): it only reads
// nodeType, tagName, attributes and children.
(function (root) {
  'use strict';

  const TEXT = 3;
  const ELEMENT = 1;
  // Never message content: scripts, controls, icons, and the extension's own injected buttons.
  const SKIP = new Set(['SCRIPT', 'STYLE', 'NOSCRIPT', 'TEMPLATE', 'BUTTON', 'SVG', 'TEXTAREA', 'INPUT',
    'SELECT', 'IFRAME', 'CANVAS', 'VIDEO', 'AUDIO']);
  const ALWAYS_IGNORE = '.sharelm-ui';
  const BLOCK = new Set(['DIV', 'SECTION', 'ARTICLE', 'HEADER', 'FOOTER', 'MAIN', 'ASIDE', 'NAV', 'FIGURE',
    'FIGCAPTION', 'DETAILS', 'SUMMARY', 'DL', 'DT', 'DD', 'FORM', 'FIELDSET']);

  function languageOf(pre) {
    const candidates = [pre, pre.querySelector('code')].filter(Boolean);
    for (const el of candidates) {
      const attr = el.getAttribute('data-language') || el.getAttribute('data-lang');
      if (attr) return attr.trim();
      const m = /(?:^|\s)(?:language|lang)-([\w+#.-]+)/.exec(el.getAttribute('class') || '');
      if (m) return m[1];
    }
    return '';
  }

  function rawText(node, ignore) {
    if (node.nodeType === TEXT) return node.nodeValue;
    if (node.nodeType !== ELEMENT || isIgnored(node, ignore)) return '';
    if (node.tagName === 'BR') return '\n';
    let out = '';
    for (const child of node.childNodes) out += rawText(child, ignore);
    return out;
  }

  function isIgnored(el, ignore) {
    if (SKIP.has(el.tagName.toUpperCase())) return true;
    if (el.getAttribute('aria-hidden') === 'true') return true;
    return el.matches(ignore);
  }

  // Sites wrap code blocks in chrome: a language label and copy buttons beside the <pre>. A wrapper holding
  // one <pre>, no prose, and only one short word of other text is such chrome: the word is the language.
  const PROSE = 'p, li, h1, h2, h3, h4, h5, h6, table, blockquote, ul, ol';
  function codeWrapperLanguage(el, ignore) {
    const pres = el.querySelectorAll('pre');
    if (pres.length !== 1 || el.querySelector(PROSE)) return null;
    const pre = pres[0];
    const outside = (node) => {
      if (node === pre) return '';
      if (node.nodeType === TEXT) return node.nodeValue;
      if (node.nodeType !== ELEMENT || isIgnored(node, ignore)) return '';
      return Array.from(node.childNodes, outside).join(' ');
    };
    const label = outside(el).trim();
    if (!/^[\w#+.-]{0,20}$/.test(label)) return null;
    return { pre, label: label.toLowerCase() };
  }

  function codeBlock(pre, ctx, fallbackLanguage = '') {
    const codeEl = pre.querySelector('code') || pre;
    const code = rawText(codeEl, ctx.ignore).replace(/\n+$/, '');
    const f = fence(code);
    ctx.blocks.push(`${f}${languageOf(pre) || fallbackLanguage}\n${code}\n${f}`);
    return `\n\n\u0000${ctx.blocks.length - 1}\u0000\n\n`;
  }

  function fence(code) {
    let ticks = '```';
    while (code.includes(ticks)) ticks += '`';
    return ticks;
  }

  function indent(text, prefix) {
    return text.split('\n').map((line, i) => (i === 0 || !line ? line : prefix + line)).join('\n');
  }

  // Renders inline and block content; blocks are separated by "\n\n" and collapsed at the end.
  // Code blocks are replaced by placeholders while rendering so whitespace collapsing never touches them.
  function render(node, ctx) {
    if (node.nodeType === TEXT) {
      return node.nodeValue.replace(/\s+/g, ' ');
    }
    if (node.nodeType !== ELEMENT || isIgnored(node, ctx.ignore)) return '';
    const tag = node.tagName.toUpperCase();
    const inner = () => Array.from(node.childNodes, (c) => render(c, ctx)).join('');

    switch (tag) {
      case 'BR':
        return '\n';
      case 'HR':
        return '\n\n---\n\n';
      case 'P':
        return `\n\n${inner().trim()}\n\n`;
      case 'H1': case 'H2': case 'H3': case 'H4': case 'H5': case 'H6':
        return `\n\n${'#'.repeat(Number(tag[1]))} ${inner().trim()}\n\n`;
      case 'STRONG': case 'B': {
        const t = inner();
        return t.trim() ? `**${t.trim()}**` : t;
      }
      case 'EM': case 'I': {
        const t = inner();
        return t.trim() ? `*${t.trim()}*` : t;
      }
      case 'DEL': case 'S': {
        const t = inner();
        return t.trim() ? `~~${t.trim()}~~` : t;
      }
      case 'CODE': {
        const t = rawText(node, ctx.ignore);
        const tick = t.includes('`') ? '``' : '`';
        return t ? `${tick}${t}${tick}` : '';
      }
      case 'PRE':
        return codeBlock(node, ctx);
      case 'A': {
        const text = inner().trim();
        const href = node.getAttribute('href');
        if (!href || href.startsWith('javascript:') || href.startsWith('#')) return text;
        const abs = node.href || href;
        return text ? `[${text}](${abs})` : `<${abs}>`;
      }
      case 'IMG': {
        const alt = (node.getAttribute('alt') || '').trim();
        const src = node.getAttribute('src');
        return src && !src.startsWith('data:') ? `![${alt}](${node.src || src})` : alt;
      }
      case 'UL': case 'OL': {
        let n = Number(node.getAttribute('start') || 1);
        const items = [];
        for (const li of node.children) {
          if (li.tagName.toUpperCase() !== 'LI' || isIgnored(li, ctx.ignore)) continue;
          const marker = tag === 'OL' ? `${n++}. ` : '- ';
          const body = tidy(Array.from(li.childNodes, (c) => render(c, ctx)).join(''));
          items.push(marker + indent(body, ' '.repeat(marker.length)));
        }
        return `\n\n${items.join('\n')}\n\n`;
      }
      case 'BLOCKQUOTE': {
        const body = tidy(inner());
        return `\n\n${body.split('\n').map((l) => (l ? `> ${l}` : '>')).join('\n')}\n\n`;
      }
      case 'TABLE':
        return `\n\n${table(node, ctx)}\n\n`;
      default: {
        // KaTeX renders math twice (MathML for readers, HTML for eyes): keep the TeX source once.
        if (node.classList && node.classList.contains('katex')) {
          const tex = node.querySelector('annotation[encoding="application/x-tex"]');
          if (tex) {
            const display = node.parentElement && node.parentElement.classList.contains('katex-display');
            return display ? `\n\n$$${tex.textContent.trim()}$$\n\n` : `$${tex.textContent.trim()}$`;
          }
        }
        const wrapped = codeWrapperLanguage(node, ctx.ignore);
        if (wrapped) return codeBlock(wrapped.pre, ctx, wrapped.label);
        if (BLOCK.has(tag)) return `\n${inner()}\n`;
        return inner();
      }
    }
  }

  function table(node, ctx) {
    const rows = Array.from(node.querySelectorAll('tr')).filter((tr) => tr.closest('table') === node);
    if (!rows.length) return '';
    const cells = rows.map((tr) => Array.from(tr.children)
      .filter((c) => /^T[HD]$/i.test(c.tagName))
      .map((c) => tidy(render(c, ctx)).replace(/\n+/g, ' ').replace(/\|/g, '\\|')));
    const width = Math.max(...cells.map((r) => r.length));
    const line = (r) => `| ${Array.from({ length: width }, (_, i) => r[i] || '').join(' | ')} |`;
    const out = [line(cells[0]), `| ${Array(width).fill('---').join(' | ')} |`];
    for (const r of cells.slice(1)) out.push(line(r));
    return out.join('\n');
  }

  function tidy(text) {
    return text
      .split('\n').map((l) => l.replace(/[ \t]+$/g, '').replace(/^ +(?=\S)/, (m) => (m.length > 1 ? m : ''))).join('\n')
      .replace(/\n{3,}/g, '\n\n')
      .trim();
  }

  /** Markdown of an element's content. `ignore`: extra selectors whose elements are not content. */
  function toMarkdown(el, ignore = []) {
    const ctx = { ignore: [ALWAYS_IGNORE, ...ignore].join(', '), blocks: [] };
    const body = tidy(render(el, ctx));
    return body.replace(/\u0000(\d+)\u0000/g, (_, i) => ctx.blocks[Number(i)]);
  }

  /** Plain text as typed (user prompts): line breaks kept, block elements on their own lines. */
  function toText(el, ignore = []) {
    const sel = [ALWAYS_IGNORE, ...ignore].join(', ');
    const walk = (node) => {
      if (node.nodeType === TEXT) return node.nodeValue;
      if (node.nodeType !== ELEMENT || isIgnored(node, sel)) return '';
      const tag = node.tagName.toUpperCase();
      if (tag === 'BR') return '\n';
      const inner = Array.from(node.childNodes, walk).join('');
      return tag === 'P' || BLOCK.has(tag) || /^H\d$/.test(tag) || tag === 'LI' ? `\u0001${inner}\u0001` : inner;
    };
    // \u0001 marks a block boundary: one line break, however many boundaries meet there.
    return walk(el).replace(/\r/g, '').replace(/\n*\u0001[\u0001\n]*/g, '\n').replace(/\n{3,}/g, '\n\n').trim();
  }

  const api = { toMarkdown, toText };
  root.ShareLM = root.ShareLM || {};
  root.ShareLM.markdown = api;
  if (typeof module === 'object' && module.exports) module.exports = api;
})(globalThis);

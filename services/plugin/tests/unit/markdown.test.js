const { test } = require('node:test');
const assert = require('node:assert/strict');
const { JSDOM } = require('jsdom');
const { toMarkdown, toText } = require('../../src/lib/markdown.js');

const md = (html, ignore) => toMarkdown(new JSDOM(`<div id="m">${html}</div>`, { url: 'https://site.test/c/1' }).window.document.getElementById('m'), ignore);

test('nested lists keep their structure', () => {
  assert.equal(md('<ol><li>one<ul><li>a</li><li>b</li></ul></li><li>two</li></ol>'), '1. one\n\n   - a\n   - b\n2. two');
});

test('relative links become absolute, anchors and javascript: links keep only their text', () => {
  assert.equal(md('<p><a href="/docs">docs</a> <a href="#x">here</a> <a href="javascript:void 0">js</a></p>'),
    '[docs](https://site.test/docs) here js');
});

test('code keeps its whitespace; fences grow past backticks inside', () => {
  assert.equal(md('<pre><code class="lang-js">if (a) {\n    b();\n}\n\n\nc();</code></pre>'), '```js\nif (a) {\n    b();\n}\n\n\nc();\n```');
  assert.equal(md('<pre><code>```x```</code></pre>'), '````\n```x```\n````');
  assert.equal(md('<p>use <code>a`b</code></p>'), 'use ``a`b``');
});

test('headings, emphasis, blockquote, table, hr', () => {
  assert.equal(md('<h2>Title</h2><p><em>it</em> and <b>bold</b> and <del>old</del></p><blockquote><p>quoted</p><p>two</p></blockquote><hr><table><tr><th>a</th><th>b</th></tr><tr><td>1</td><td>x|y</td></tr></table>'),
    '## Title\n\n*it* and **bold** and ~~old~~\n\n> quoted\n>\n> two\n\n---\n\n| a | b |\n| --- | --- |\n| 1 | x\\|y |');
});

test('buttons, svg, hidden and ignored elements, and our own UI are not content', () => {
  assert.equal(md('<p>keep<button>Copy</button><svg><text>x</text></svg><span aria-hidden="true">hidden</span><span class="label">drop</span><span class="sharelm-ui">👍</span></p>', ['.label']), 'keep');
});

test('text mode keeps typed line breaks and drops markup', () => {
  const el = new JSDOM('<div id="u"><p>line 1</p><p>line 2<br>line 3</p></div>').window.document.getElementById('u');
  assert.equal(toText(el), 'line 1\nline 2\nline 3');
});

test('KaTeX math keeps its TeX source once, inline and display', () => {
  const katex = (tex) => `<span class="katex"><span class="katex-mathml"><math><semantics><mrow><mi>x</mi></mrow><annotation encoding="application/x-tex">${tex}</annotation></semantics></math></span><span class="katex-html" aria-hidden="true"><span class="base">x²</span></span></span>`;
  assert.equal(md(`<p>so ${katex('x^2')} grows</p><span class="katex-display">${katex('\\sum_i x_i')}</span>`),
    'so $x^2$ grows\n\n$$\\sum_i x_i$$');
});

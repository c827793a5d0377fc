// Every platform adapter on its saved page: right platform, the platform's conversation id, model name, and
// the conversation as Markdown (code block, list, links kept; site chrome such as copy buttons dropped).
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { readFileSync } = require('node:fs');
const { join } = require('node:path');
const { JSDOM } = require('jsdom');
const { ADAPTERS } = require('../../src/lib/adapters.js');
const X = require('../../src/lib/extract.js');

const FIX = join(__dirname, '..', 'fixtures');
const load = (name, url) => new JSDOM(readFileSync(join(FIX, `${name}.html`), 'utf8'), { url }).window.document;

const CASES = {
  chatgpt: { url: 'https://chatgpt.com/c/6740a1b2-93f0-8004-b1a4-2cbd3a6f5e11?model=gpt-4o#x', id: '6740a1b2-93f0-8004-b1a4-2cbd3a6f5e11', model: 'ChatGPT 4o', lang: 'python' },
  claude: { url: 'https://claude.ai/chat/0b9a5c3e-2f1d-4e8a-9c77-5d3e1f2a4b6c', id: '0b9a5c3e-2f1d-4e8a-9c77-5d3e1f2a4b6c', model: 'Claude Sonnet 4', lang: 'python' },
  gemini: { url: 'https://gemini.google.com/app/3f9c2a1b7d4e5f60?hl=en', id: '3f9c2a1b7d4e5f60', model: '2.5 Flash', lang: 'python' },
  'hf-chatui': { url: 'https://huggingface.co/chat/conversation/6740b1c2d3e4f5a6b7c8d9e0', id: '6740b1c2d3e4f5a6b7c8d9e0', model: 'meta-llama/Llama-3.3-70B-Instruct', lang: 'python' },
  gradio: { url: 'https://some-user-chat-demo.hf.space/?__theme=dark', id: null, model: 'Llama 3 Chat Demo', lang: 'python' },
  mistral: { url: 'https://chat.mistral.ai/chat/1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f', id: '1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f', model: 'Mistral Medium 3', lang: 'python' },
  perplexity: { url: 'https://www.perplexity.ai/search/how-do-i-reverse-a-list-E3yJ2k9QTa.8xw1', id: 'how-do-i-reverse-a-list-E3yJ2k9QTa.8xw1', model: 'Sonar', lang: 'python' },
  poe: { url: 'https://poe.com/chat/2rx5k8l1q9zb7ym3nvw', id: '2rx5k8l1q9zb7ym3nvw', model: 'Claude-3.7-Sonnet', lang: 'python' },
  grok: { url: 'https://grok.com/chat/7d1e2f3a-4b5c-4d6e-8f70-81a2b3c4d5e6', id: '7d1e2f3a-4b5c-4d6e-8f70-81a2b3c4d5e6', model: 'Grok 4', lang: 'python' },
  deepseek: { url: 'https://chat.deepseek.com/a/chat/s/5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9', id: '5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9', model: 'DeepSeek-V3', lang: 'python' },
  copilot: { url: 'https://copilot.microsoft.com/chats/Xb7nQ2pL9vR4tY1s', id: 'Xb7nQ2pL9vR4tY1s', model: 'Quick response', lang: 'python' },
  qwen: { url: 'https://chat.qwen.ai/c/9b2e4f61-0c3d-4a5e-8f7a-1b2c3d4e5f60', id: '9b2e4f61-0c3d-4a5e-8f7a-1b2c3d4e5f60', model: 'Qwen3-Max', lang: 'python' },
};

const USER1 = 'How do I reverse a list in Python?\nMy email is jane.doe@example.com';
const USER2 = 'Thanks! Call me at +1 415 555 0132';
const answer1 = (lang) => [
  'To reverse a list in Python you have **three** options:',
  `\`\`\`${lang}\nnums = [1, 2, 3]\nnums.reverse()\nprint(nums[::-1])\n\`\`\``,
  '- `list.reverse()` reverses in place\n- `reversed(nums)` returns an iterator\n- slicing with `[::-1]` makes a copy',
  'See the [Python docs](https://docs.python.org/3/tutorial/datastructures.html) for more.',
].join('\n\n');
const ANSWER2 = "You're welcome! Two tips:\n\n1. Prefer `reversed()` for large lists\n2. Use slicing when you need a copy";

test('the table covers the eleven platforms of the brief, plus Qwen Chat', () => {
  assert.deepEqual(ADAPTERS.map((a) => a.id).sort(), Object.keys(CASES).sort());
});

for (const [name, c] of Object.entries(CASES)) {
  test(`${name}: adapter, conversation id, model, Markdown messages`, () => {
    const doc = load(name, c.url);
    const adapter = X.findAdapter(ADAPTERS, c.url, doc);
    assert.ok(adapter, `no adapter matched ${c.url}`);
    assert.equal(adapter.id, name);
    const snap = X.extract(adapter, doc, c.url);
    assert.equal(snap.platformConversationId, c.id);
    assert.equal(snap.modelName, c.model);
    assert.equal(snap.pageUrl, c.url.split(/[?#]/)[0]);
    assert.deepEqual(snap.messages.map((m) => m.role), ['user', 'assistant', 'user', 'assistant']);
    assert.equal(snap.messages[0].content, USER1);
    assert.equal(snap.messages[1].content, answer1(c.lang));
    assert.equal(snap.messages[2].content, USER2);
    assert.equal(snap.messages[3].content, ANSWER2);
    assert.equal(snap.assistantTurns.length, 2);
    assert.deepEqual(X.health(adapter, snap, { sinceLoadMs: 10000, sinceLastUserMs: 0, textGrowth: 0 }), { ok: true });
  });
}

test('no adapter on unrelated pages; Gradio only where a gradio-app exists', () => {
  const plain = new JSDOM('<p>hello</p>', { url: 'https://example.org/chat/abc' }).window.document;
  assert.equal(X.findAdapter(ADAPTERS, 'https://example.org/chat/abc', plain), null);
  assert.equal(X.findAdapter(ADAPTERS, 'https://huggingface.co/models', plain), null);
  const gradio = new JSDOM('<gradio-app></gradio-app>', { url: 'http://localhost:7860/' }).window.document;
  assert.equal(X.findAdapter(ADAPTERS, 'http://localhost:7860/', gradio).id, 'gradio');
});

test('conversation ids: new-chat pages have none, GPT-scoped ChatGPT chats have one', () => {
  const gpt = ADAPTERS.find((a) => a.id === 'chatgpt');
  assert.equal(X.platformConversationId(gpt, 'https://chatgpt.com/'), null);
  assert.equal(X.platformConversationId(gpt, 'https://chatgpt.com/g/g-abc-helper/c/67aa-bb'), '67aa-bb');
});

test('page URLs lose their query string and fragment', () => {
  assert.equal(X.cleanUrl('https://chatgpt.com/c/1?token=secret&q=x#frag'), 'https://chatgpt.com/c/1');
  assert.equal(X.cleanUrl('not a url'), null);
});

test('a renamed selector on a conversation page is reported as broken capture', () => {
  const url = CASES.chatgpt.url;
  const doc = load('chatgpt-renamed', url);
  const adapter = X.findAdapter(ADAPTERS, url, doc);
  const snap = X.extract(adapter, doc, url);
  assert.equal(snap.messages.length, 0);
  const early = X.health(adapter, snap, { sinceLoadMs: 500, sinceLastUserMs: 0, textGrowth: 0 });
  assert.equal(early.ok, true, 'no verdict before the page had time to render');
  const late = X.health(adapter, snap, { sinceLoadMs: 8000, sinceLastUserMs: 0, textGrowth: 0 });
  assert.equal(late.ok, false);
  assert.match(late.reason, /no messages match/);
});

test('a fresh chat page is not broken; a page gaining text with no turns is', () => {
  const adapter = ADAPTERS.find((a) => a.id === 'gradio');
  const empty = { messages: [], platformConversationId: null };
  assert.equal(X.health(adapter, empty, { sinceLoadMs: 60000, textGrowth: 10 }).ok, true);
  assert.equal(X.health(adapter, empty, { sinceLoadMs: 60000, textGrowth: 5000 }).ok, false);
  const onlyUser = { messages: [{ role: 'user', content: 'hi' }], platformConversationId: null };
  assert.equal(X.health(adapter, onlyUser, { sinceLoadMs: 60000, sinceLastUserMs: 1000 }).ok, true);
  assert.equal(X.health(adapter, onlyUser, { sinceLoadMs: 60000, sinceLastUserMs: 60000 }).ok, false);
});

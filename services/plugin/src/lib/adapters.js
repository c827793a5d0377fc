// The platform table: everything site-specific lives here, as data. Adding a platform or repairing a
// broken selector is an edit to one entry; the capture code never names a site.
//
// Entry fields:
//   id, name          stable platform id (stored with conversations) and display name
//   hosts             hostnames; "*.example.com" matches subdomains; "*" matches any host (then `detect` decides)
//   paths             optional RegExp source the pathname must match (e.g. HF ChatUI lives under /chat)
//   detect            optional selector that must exist in the page (Gradio apps run on any host)
//   turns.user        selector of one user turn; turns.assistant: one assistant turn (document order = chat order)
//   content.user      optional selector of the text inside a user turn (defaults to the turn itself)
//   content.assistant optional selector of the Markdown body inside an assistant turn
//   userFormat        "text" (keep line breaks as typed) or "markdown"
//   ignore            selectors dropped from the Markdown (site chrome inside a message: copy buttons, labels)
//   model             selector whose text is the model name (optional)
//   conversationId    RegExp source applied to the pathname; group 1 is the platform's own conversation id
//   root              optional selector to observe instead of document.body
(function (root) {
  'use strict';

  const ADAPTERS = [
    {
      id: 'chatgpt',
      name: 'ChatGPT',
      hosts: ['chatgpt.com', 'chat.openai.com'],
      turns: {
        user: '[data-message-author-role="user"]',
        assistant: '[data-message-author-role="assistant"]',
      },
      content: { user: '.whitespace-pre-wrap', assistant: '.markdown' },
      userFormat: 'text',
      ignore: ['.sr-only'],
      model: '[data-testid="model-switcher-dropdown-button"]',
      conversationId: '^/(?:g/[^/]+/)?c/([0-9a-zA-Z-]+)',
    },
    {
      id: 'claude',
      name: 'Claude',
      hosts: ['claude.ai'],
      turns: {
        user: '[data-testid="user-message"]',
        assistant: '.font-claude-response, .font-claude-message',
      },
      userFormat: 'text',
      model: '[data-testid="model-selector-dropdown"]',
      conversationId: '^/chat/([0-9a-fA-F-]+)',
    },
    {
      id: 'gemini',
      name: 'Gemini',
      hosts: ['gemini.google.com'],
      turns: { user: 'user-query', assistant: 'model-response' },
      content: { user: '.query-text', assistant: 'message-content .markdown, message-content' },
      userFormat: 'text',
      ignore: ['.cdk-visually-hidden'],
      model: '[data-test-id="bard-mode-menu-button"]',
      conversationId: '^/(?:u/\\d+/)?app/([0-9a-f]+)',
    },
    {
      id: 'hf-chatui',
      name: 'Hugging Face Chat',
      hosts: ['huggingface.co', 'hf.co'],
      paths: '^/chat',
      turns: {
        user: '[data-message-role="user"]',
        assistant: '[data-message-role="assistant"]',
      },
      content: { user: '.whitespace-break-spaces, p', assistant: '.prose' },
      userFormat: 'text',
      model: '[data-testid="model-name"], a[href^="/chat/settings/"] .model-name',
      conversationId: '^/chat/conversation/([0-9a-f]+)',
    },
    {
      id: 'gradio',
      name: 'Gradio',
      hosts: ['*'],
      detect: 'gradio-app',
      turns: {
        user: '[data-testid="user"]',
        assistant: '[data-testid="bot"]',
      },
      content: { user: '.prose, .md', assistant: '.prose, .md' },
      userFormat: 'markdown',
      ignore: ['.message-buttons', '.icon-button-wrapper'],
      model: 'gradio-app h1',
      conversationId: null,
    },
    {
      id: 'mistral',
      name: 'Mistral Le Chat',
      hosts: ['chat.mistral.ai'],
      turns: {
        user: '[data-message-author-role="user"]',
        assistant: '[data-message-author-role="assistant"]',
      },
      content: { user: '[data-message-part-type="text"], .select-text', assistant: '[data-message-part-type="answer"], .markdown-container' },
      userFormat: 'text',
      model: '[data-testid="model-selector"] span',
      conversationId: '^/chat/([0-9a-fA-F-]+)',
    },
    {
      id: 'perplexity',
      name: 'Perplexity',
      hosts: ['www.perplexity.ai', 'perplexity.ai'],
      turns: {
        user: '[class*="group/query"]',
        assistant: '[id^="markdown-content-"]',
      },
      content: { assistant: '.prose' },
      userFormat: 'text',
      ignore: ['.citation', '[class*="citation"]'],
      model: '[data-testid="model-selector"] span',
      conversationId: '^/search/([\\w.-]+)',
    },
    {
      id: 'poe',
      name: 'Poe',
      hosts: ['poe.com'],
      turns: {
        user: '[class*="ChatMessage_rightSideMessageWrapper"]',
        assistant: '[class*="ChatMessage_leftSideMessageWrapper"]',
      },
      content: {
        user: '[class*="Markdown_markdownContainer"]',
        assistant: '[class*="Markdown_markdownContainer"]',
      },
      userFormat: 'markdown',
      model: '[class*="BotHeader_textContainer"] p, [class*="BotInfoCardHeader_botName"]',
      conversationId: '^/chat/([\\w-]+)',
    },
    {
      id: 'grok',
      name: 'Grok',
      hosts: ['grok.com'],
      turns: {
        user: '[id^="response-"].items-end',
        assistant: '[id^="response-"].items-start',
      },
      content: { user: '.message-bubble', assistant: '.message-bubble .response-content-markdown, .message-bubble' },
      userFormat: 'text',
      ignore: ['.action-buttons'],
      model: '#model-select-trigger span',
      conversationId: '^/chat/([0-9a-fA-F-]+)',
    },
    {
      id: 'deepseek',
      name: 'DeepSeek',
      hosts: ['chat.deepseek.com'],
      turns: {
        user: '.ds-message:not(:has(.ds-markdown))',
        assistant: '.ds-message:has(.ds-markdown)',
      },
      content: { assistant: '.ds-markdown' },
      userFormat: 'text',
      ignore: ['.ds-think-content'],
      model: '.ds-model-name',
      conversationId: '^/a/chat/s/([0-9a-fA-F-]+)',
    },
    {
      id: 'copilot',
      name: 'Microsoft Copilot',
      hosts: ['copilot.microsoft.com'],
      turns: {
        user: '[data-content="user-message"]',
        assistant: '[data-content="ai-message"]',
      },
      userFormat: 'text',
      ignore: ['[data-testid="message-actions"]'],
      model: '[data-testid="composer-chat-mode-button"]',
      conversationId: '^/chats/([\\w-]+)',
    },
    {
      // Asked for by ShareLM's users; Qwen Chat is built on Open WebUI, whose markup it keeps.
      id: 'qwen',
      name: 'Qwen Chat',
      hosts: ['chat.qwen.ai'],
      turns: { user: '.chat-user', assistant: '.chat-response-message' },
      content: { user: '.user-message-content', assistant: '.markdown-content-container, .markdown-prose' },
      userFormat: 'text',
      ignore: ['.message-footer', '.code-copy-button'],
      model: '#model-selector-0-button span',
      conversationId: '^/c/([0-9a-fA-F-]+)',
    },
  ];

  const api = { ADAPTERS };
  root.ShareLM = root.ShareLM || {};
  root.ShareLM.adapters = api;
  if (typeof module === 'object' && module.exports) module.exports = api;
})(globalThis);

// What leaves the extension (uploads and exports) is a sharelm Conversation: validated here against the
// JSON Schema that packages/collection exports from its pydantic model.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { readFileSync } = require('node:fs');
const { join, resolve } = require('node:path');
const Ajv2020 = require('ajv/dist/2020').default;
const { createRedactor } = require('../../src/lib/redact.js');
const { toConversation, toJsonl, toCsv } = require('../../src/lib/conversation.js');

const DATA = join(resolve(__dirname, '..', '..', '..', '..'), 'packages', 'collection', 'src', 'sharelm', 'data');
const schema = JSON.parse(readFileSync(join(DATA, 'conversation.schema.json'), 'utf8'));
const validate = new Ajv2020({ strict: false }).compile(schema);
const redactor = createRedactor(JSON.parse(readFileSync(join(DATA, 'redaction_rules.json'), 'utf8')));

const record = (over = {}) => ({
  key: 'chatgpt:abc', conversation_id: 'c0ffee', platform: 'chatgpt', page_url: 'https://chatgpt.com/c/abc',
  model_name: 'ChatGPT 4o', title: 'Lists', created_at: Date.UTC(2026, 10, 26, 12), updated_at: 0, version: 3,
  messages: [
    { role: 'user', content: 'hi, I am jane.doe@example.com' },
    { role: 'assistant', content: 'Hello!\n\n```py\nprint(1)\n```' },
    { role: 'user', content: 'call +1 415 555 0132, thanks' },
    { role: 'assistant', content: 'Sure, "quoted", with commas' },
  ],
  message_ratings: [1], rate: 'thumbup', dont_share: false,
  upload: { attempts: 0, next_attempt_at: 0, last_error: null, rejected: null },
  ...over,
});

test('upload body: schema-valid, redacted, ratings one per answer, stable id', () => {
  const c = toConversation(record(), { redactor, userId: 'contrib-1' });
  assert.ok(validate(c), JSON.stringify(validate.errors));
  assert.equal(c.conversation_id, 'c0ffee');
  assert.equal(c.conversation[0].content, 'hi, I am [REDACTED_EMAIL]');
  assert.equal(c.conversation[2].content, 'call [REDACTED_PHONE], thanks');
  assert.equal(c.conversation[1].content, 'Hello!\n\n```py\nprint(1)\n```');
  assert.deepEqual(c.conversation_metadata.message_ratings, [1, 0]);
  assert.equal(c.conversation_metadata.rate, 'thumbup');
  assert.equal(c.conversation_metadata.redacted, 'True');
  assert.deepEqual(c.conversation_metadata.extra.redactions, { email: 1, phone: 1 });
  assert.equal(c.conversation_metadata.extra.page_url, 'https://chatgpt.com/c/abc');
  assert.equal(c.timestamp, '2026-11-26T12:00:00.000Z');
  assert.equal(c.source, 'share_lm_plugin');
  assert.equal(c.user_id, 'contrib-1');
});

test('JSONL export: one schema-valid conversation per line', () => {
  const convs = [record(), record({ conversation_id: 'other', rate: null, message_ratings: [] })]
    .map((r) => toConversation(r, { redactor }));
  const lines = toJsonl(convs).trim().split('\n');
  assert.equal(lines.length, 2);
  for (const line of lines) assert.ok(validate(JSON.parse(line)), JSON.stringify(validate.errors));
  assert.equal(toJsonl([]), '');
});

test('a body the schema refuses is caught by the validator (the check can fail)', () => {
  const c = toConversation(record(), { redactor });
  c.conversation_metadata.message_ratings = [2];
  assert.equal(validate(c), false);
});

test('CSV export: the public plugin columns first, quoted per RFC 4180', () => {
  const csv = toCsv([toConversation(record(), { redactor })]);
  assert.ok(csv.startsWith('Conversation ID,User Message,Bot Response,Platform,Model,Response Rating,Conversation Rating\r\n' +
    'c0ffee,"hi, I am [REDACTED_EMAIL]","Hello!\n\n```py\nprint(1)\n```",chatgpt,ChatGPT 4o,1,thumbup\r\n'), csv);
  assert.ok(csv.includes('c0ffee,"call [REDACTED_PHONE], thanks","Sure, ""quoted"", with commas",chatgpt,ChatGPT 4o,0,thumbup'));
});
